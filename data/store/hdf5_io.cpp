#include "data/store/hdf5_io.h"

#include "core/c_api_check.h"

namespace hmt::h5 {

Id& Id::operator=(Id&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = other.id_;
    kind_ = other.kind_;
    other.id_ = H5I_INVALID_HID;
  }
  return *this;
}

void Id::reset() {
  if (id_ < 0) return;
  // Close failures cannot be reported from a destructor; HDF5 keeps them on
  // its stack, which the next checked call clears.
  switch (kind_) {
    case Kind::File: H5Fclose(id_); break;
    case Kind::Group: H5Gclose(id_); break;
    case Kind::Dataset: H5Dclose(id_); break;
    case Kind::Dataspace: H5Sclose(id_); break;
    case Kind::Datatype: H5Tclose(id_); break;
    case Kind::Attribute: H5Aclose(id_); break;
    case Kind::Plist: H5Pclose(id_); break;
  }
  id_ = H5I_INVALID_HID;
}

namespace {

// HDF5 closes whatever is still open in an atexit handler; a file whose
// flush failed (a full disk) crashes it there (segfault in H5F__close_cb
// after the error was reported). Every file here is closed by its owner, so
// the handler has nothing to do: never install it. Must run before any
// other HDF5 call, hence a static initializer.
const bool kNoHdf5Atexit = [] {
  H5dont_atexit();
  return true;
}();

}  // namespace

void quiet_errors() { H5Eset_auto2(H5E_DEFAULT, /*func=*/nullptr, /*client_data=*/nullptr); }

bool exists(hid_t location, const std::string& name) {
  return HMT_H5_CHECK(H5Lexists(location, name.c_str(), H5P_DEFAULT)) > 0;
}

bool has_attribute(hid_t object, const std::string& name) { return HMT_H5_CHECK(H5Aexists(object, name.c_str())) > 0; }

namespace {

Id scalar_space() { return Id(HMT_H5_CHECK(H5Screate(H5S_SCALAR)), Id::Kind::Dataspace); }

Id fresh_attribute(hid_t object, const std::string& name, hid_t type) {
  if (has_attribute(object, name)) HMT_H5_CHECK(H5Adelete(object, name.c_str()));
  Id space = scalar_space();
  return Id(HMT_H5_CHECK(H5Acreate2(object, name.c_str(), type, space.get(), H5P_DEFAULT, H5P_DEFAULT)),
            Id::Kind::Attribute);
}

Id simple_space(hsize_t length) {
  return Id(HMT_H5_CHECK(H5Screate_simple(/*rank=*/1, &length, /*maxdims=*/nullptr)), Id::Kind::Dataspace);
}

// The file-side selection [offset, offset + count) of a 1-D dataset.
Id select_range(hid_t dataset, hsize_t offset, hsize_t count) {
  Id space(HMT_H5_CHECK(H5Dget_space(dataset)), Id::Kind::Dataspace);
  HMT_H5_CHECK(H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, &offset, /*stride=*/nullptr, &count,
                                   /*block=*/nullptr));
  return space;
}

}  // namespace

void write_attribute(hid_t object, const std::string& name, int64_t value) {
  Id attribute = fresh_attribute(object, name, H5T_STD_I64LE);
  HMT_H5_CHECK(H5Awrite(attribute.get(), H5T_NATIVE_INT64, &value));
}

void write_attribute(hid_t object, const std::string& name, const std::string& value) {
  const char* text = value.c_str();
  Id attribute = fresh_attribute(object, name, string_type());
  HMT_H5_CHECK(H5Awrite(attribute.get(), string_type(), &text));
}

std::optional<int64_t> read_int_attribute(hid_t object, const std::string& name) {
  if (!has_attribute(object, name)) return std::nullopt;
  Id attribute(HMT_H5_CHECK(H5Aopen(object, name.c_str(), H5P_DEFAULT)), Id::Kind::Attribute);
  Id type(HMT_H5_CHECK(H5Aget_type(attribute.get())), Id::Kind::Datatype);
  if (H5Tget_class(type.get()) != H5T_INTEGER) return std::nullopt;
  int64_t value = 0;
  HMT_H5_CHECK(H5Aread(attribute.get(), H5T_NATIVE_INT64, &value));
  return value;
}

std::optional<std::string> read_string_attribute(hid_t object, const std::string& name) {
  if (!has_attribute(object, name)) return std::nullopt;
  Id attribute(HMT_H5_CHECK(H5Aopen(object, name.c_str(), H5P_DEFAULT)), Id::Kind::Attribute);
  Id type(HMT_H5_CHECK(H5Aget_type(attribute.get())), Id::Kind::Datatype);
  if (H5Tget_class(type.get()) != H5T_STRING || HMT_H5_CHECK(H5Tis_variable_str(type.get())) <= 0) return std::nullopt;
  char* text = nullptr;
  HMT_H5_CHECK(H5Aread(attribute.get(), string_type(), &text));
  std::string value = text ? text : "";
  H5free_memory(text);
  return value;
}

template <>
hid_t native_type<uint32_t>() {
  return H5T_NATIVE_UINT32;
}
template <>
hid_t native_type<uint64_t>() {
  return H5T_NATIVE_UINT64;
}
template <>
hid_t native_type<int8_t>() {
  return H5T_NATIVE_INT8;
}
template <>
hid_t native_type<int64_t>() {
  return H5T_NATIVE_INT64;
}

void create_vector(hid_t group, const std::string& name, hid_t type, hsize_t chunk, int deflate_level) {
  hsize_t zero = 0, unlimited = H5S_UNLIMITED;
  Id space(HMT_H5_CHECK(H5Screate_simple(/*rank=*/1, &zero, &unlimited)), Id::Kind::Dataspace);
  Id plist(HMT_H5_CHECK(H5Pcreate(H5P_DATASET_CREATE)), Id::Kind::Plist);
  HMT_H5_CHECK(H5Pset_chunk(plist.get(), /*ndims=*/1, &chunk));
  if (deflate_level > 0) {
    // Byte-shuffling groups the (mostly zero) high bytes of the ids, which
    // is what lets deflate shrink uint32 tokens well at a fast level.
    HMT_H5_CHECK(H5Pset_shuffle(plist.get()));
    HMT_H5_CHECK(H5Pset_deflate(plist.get(), static_cast<unsigned>(deflate_level)));
  }
  // A checksum per chunk, last in the pipeline so it covers the bytes as
  // stored: every chunk read verifies what it reads (a damaged chunk fails
  // its H5Dread), and nothing is read twice to check it. HDF5 filters do not
  // apply to variable-length strings (their bytes live in the global heap),
  // so names and paths go unchecked; every number dataset is covered.
  if (HMT_H5_CHECK(H5Tis_variable_str(type)) <= 0) HMT_H5_CHECK(H5Pset_fletcher32(plist.get()));
  // Stored little-endian whatever the writer's byte order.
  hid_t file_type = type;
  if (type == H5T_NATIVE_UINT32) file_type = H5T_STD_U32LE;
  if (type == H5T_NATIVE_UINT64) file_type = H5T_STD_U64LE;
  if (type == H5T_NATIVE_INT8) file_type = H5T_STD_I8LE;
  if (type == H5T_NATIVE_INT64) file_type = H5T_STD_I64LE;
  Id dataset(HMT_H5_CHECK(H5Dcreate2(group, name.c_str(), file_type, space.get(), H5P_DEFAULT, plist.get(),
                                     H5P_DEFAULT)),
             Id::Kind::Dataset);
}

bool has_checksum(hid_t dataset) {
  Id plist(HMT_H5_CHECK(H5Dget_create_plist(dataset)), Id::Kind::Plist);
  unsigned flags = 0, config = 0;
  size_t count = 0;
  return H5Pget_filter_by_id2(plist.get(), H5Z_FILTER_FLETCHER32, &flags, &count, nullptr, 0, nullptr, &config) >= 0;
}

hsize_t vector_length(hid_t dataset) {
  Id space(HMT_H5_CHECK(H5Dget_space(dataset)), Id::Kind::Dataspace);
  HMT_CHECK(HMT_H5_CHECK(H5Sget_simple_extent_ndims(space.get())) == 1, "HDF5 dataset is not one-dimensional");
  hsize_t length = 0;
  HMT_H5_CHECK(H5Sget_simple_extent_dims(space.get(), &length, /*maxdims=*/nullptr));
  return length;
}

void set_length(hid_t dataset, hsize_t length) { HMT_H5_CHECK(H5Dset_extent(dataset, &length)); }

void write_range(hid_t dataset, hid_t type, hsize_t offset, hsize_t count, const void* values) {
  if (count == 0) return;
  if (offset + count > vector_length(dataset)) set_length(dataset, offset + count);
  Id file_space = select_range(dataset, offset, count);
  Id memory = simple_space(count);
  HMT_H5_CHECK(H5Dwrite(dataset, type, memory.get(), file_space.get(), H5P_DEFAULT, values));
}

void read_range(hid_t dataset, hid_t type, hsize_t offset, hsize_t count, void* out) {
  if (count == 0) return;
  HMT_CHECK(offset + count <= vector_length(dataset), "HDF5 read [{}, {}) past the end of a dataset of {}", offset,
            offset + count, vector_length(dataset));
  Id file_space = select_range(dataset, offset, count);
  Id memory = simple_space(count);
  HMT_H5_CHECK(H5Dread(dataset, type, memory.get(), file_space.get(), H5P_DEFAULT, out));
}

hid_t string_type() {
  static const hid_t type = [] {
    hid_t t = HMT_H5_CHECK(H5Tcopy(H5T_C_S1));
    HMT_H5_CHECK(H5Tset_size(t, H5T_VARIABLE));
    HMT_H5_CHECK(H5Tset_cset(t, H5T_CSET_UTF8));
    return t;
  }();
  return type;
}

void append_strings(hid_t dataset, const std::vector<std::string>& values) {
  std::vector<const char*> pointers;
  pointers.reserve(values.size());
  for (const auto& v : values) pointers.push_back(v.c_str());
  write_range(dataset, string_type(), vector_length(dataset), pointers.size(), pointers.data());
}

std::vector<std::string> read_strings(hid_t dataset, hsize_t offset, hsize_t count) {
  std::vector<char*> pointers(count, nullptr);
  read_range(dataset, string_type(), offset, count, pointers.data());
  std::vector<std::string> out;
  out.reserve(count);
  for (char* p : pointers) out.emplace_back(p ? p : "");
  Id memory = simple_space(count);
  if (count > 0) HMT_H5_CHECK(H5Dvlen_reclaim(string_type(), memory.get(), H5P_DEFAULT, pointers.data()));
  return out;
}

Id open_group(hid_t location, const std::string& name) {
  return Id(HMT_H5_CHECK(H5Gopen2(location, name.c_str(), H5P_DEFAULT)), Id::Kind::Group);
}

Id create_group(hid_t location, const std::string& name) {
  return Id(HMT_H5_CHECK(H5Gcreate2(location, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)), Id::Kind::Group);
}

Id open_dataset(hid_t location, const std::string& name, size_t cache_bytes) {
  Id access(HMT_H5_CHECK(H5Pcreate(H5P_DATASET_ACCESS)), Id::Kind::Plist);
  if (cache_bytes > 0)
    HMT_H5_CHECK(H5Pset_chunk_cache(access.get(), /*rdcc_nslots=*/12421, cache_bytes, /*rdcc_w0=*/0.75));
  return Id(HMT_H5_CHECK(H5Dopen2(location, name.c_str(), access.get())), Id::Kind::Dataset);
}

}  // namespace hmt::h5
