#pragma once
// Thin RAII and typed helpers over the HDF5 C API for the token store: owned
// ids, scalar attributes, and 1-D datasets (fixed-size numbers or
// variable-length strings) that grow by appending. Every call goes through
// HMT_H5_CHECK, so a failure names the call and HDF5's own error stack.
#include <hdf5.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hmt::h5 {

// Owns one hid_t and closes it with the matching H5*close.
class Id {
 public:
  enum class Kind { File, Group, Dataset, Dataspace, Datatype, Attribute, Plist };
  Id() = default;
  Id(hid_t id, Kind kind) : id_(id), kind_(kind) {}
  ~Id() { reset(); }
  Id(Id&& other) noexcept : id_(other.id_), kind_(other.kind_) { other.id_ = H5I_INVALID_HID; }
  Id& operator=(Id&& other) noexcept;
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void reset();

 private:
  hid_t id_ = H5I_INVALID_HID;
  Kind kind_ = Kind::File;
};

// Silences HDF5's automatic stack printing for the process: failures are
// reported through hmt::Error with the stack text instead.
void quiet_errors();

bool exists(hid_t location, const std::string& name);  // link (group or dataset) directly under location
bool has_attribute(hid_t object, const std::string& name);

void write_attribute(hid_t object, const std::string& name, int64_t value);
void write_attribute(hid_t object, const std::string& name, const std::string& value);
std::optional<int64_t> read_int_attribute(hid_t object, const std::string& name);
std::optional<std::string> read_string_attribute(hid_t object, const std::string& name);

// Number types a dataset may hold.
template <class T>
hid_t native_type();
template <>
hid_t native_type<uint32_t>();
template <>
hid_t native_type<uint64_t>();
template <>
hid_t native_type<int8_t>();
template <>
hid_t native_type<int64_t>();

// A 1-D chunked dataset of T, extendible, optionally shuffle+deflate
// compressed, with a Fletcher32 checksum per chunk.
void create_vector(hid_t group, const std::string& name, hid_t type, hsize_t chunk, int deflate_level);
hsize_t vector_length(hid_t dataset);
// Whether the dataset's chunks carry the Fletcher32 checksum (files written
// before it was added do not).
bool has_checksum(hid_t dataset);
// Writes count values at [offset, offset + count), growing the dataset first if needed.
void write_range(hid_t dataset, hid_t type, hsize_t offset, hsize_t count, const void* values);
// Shrinks (or grows) the dataset to `length` elements.
void set_length(hid_t dataset, hsize_t length);
void read_range(hid_t dataset, hid_t type, hsize_t offset, hsize_t count, void* out);

template <class T>
void append(hid_t dataset, const std::vector<T>& values) {
  write_range(dataset, native_type<T>(), vector_length(dataset), values.size(), values.data());
}
template <class T>
std::vector<T> read_all(hid_t dataset) {
  std::vector<T> out(vector_length(dataset));
  read_range(dataset, native_type<T>(), 0, out.size(), out.data());
  return out;
}

// Variable-length UTF-8 strings.
hid_t string_type();  // owned by this module; do not close
void append_strings(hid_t dataset, const std::vector<std::string>& values);
std::vector<std::string> read_strings(hid_t dataset, hsize_t offset, hsize_t count);

Id open_group(hid_t location, const std::string& name);
Id create_group(hid_t location, const std::string& name);
// Opens a dataset with a chunk cache of cache_bytes (0: HDF5's default).
Id open_dataset(hid_t location, const std::string& name, size_t cache_bytes = 0);

}  // namespace hmt::h5
