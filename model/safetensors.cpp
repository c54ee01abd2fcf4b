#include "model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/shape_text.h"
#include "core/atomic_file.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; this reader copies bytes as they are"
#endif

namespace hmt {
namespace {

// The reference implementation refuses larger headers (a guard against a
// corrupt length making us parse gigabytes as JSON).
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

struct DtypeName {
  const char* name;
  torch::Dtype dtype;
  int rank;  // position in the reference Dtype enum: writing orders by it, descending
};

const DtypeName kDtypes[] = {
    {"BOOL", torch::kBool, 0},  {"U8", torch::kUInt8, 1},     {"I8", torch::kInt8, 2},
    {"I16", torch::kInt16, 5},  {"F16", torch::kFloat16, 7},  {"BF16", torch::kBFloat16, 8},
    {"I32", torch::kInt32, 9},  {"F32", torch::kFloat32, 11}, {"F64", torch::kFloat64, 12},
    {"I64", torch::kInt64, 13},
};

const DtypeName* find_dtype(const std::string& name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}

const DtypeName& find_dtype(torch::Dtype dtype) {
  for (const auto& d : kDtypes)
    if (d.dtype == dtype) return d;
  fail("safetensors: no safetensors dtype for torch dtype {}", std::string(c10::toString(dtype)));
}

}  // namespace

torch::Dtype safetensors_dtype(const std::string& name) {
  const DtypeName* d = find_dtype(name);
  if (!d) fail("safetensors: unsupported dtype \"{}\"", name);
  return d->dtype;
}

std::string safetensors_dtype_name(torch::Dtype dtype) { return find_dtype(dtype).name; }

// ---------------------------------------------------------------- reading

struct SafetensorsFile::Mapping {
  void* data = MAP_FAILED;
  size_t size = 0;
  ~Mapping() {
    if (data != MAP_FAILED) ::munmap(data, size);
  }
  const char* bytes() const { return static_cast<const char*>(data); }
};

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path), mapping_(std::make_shared<Mapping>()) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("{}: cannot open safetensors file: {}", path, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    fail("{}: cannot stat: {}", path, std::strerror(err));
  }
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  if (file_size < 8) {
    ::close(fd);
    fail("{}: not a safetensors file: {} bytes, shorter than the 8-byte header length", path, file_size);
  }
  // Writable private pages: writes to a returned view stay in this process
  // (copy-on-write) instead of faulting, and never reach the file.
  mapping_->data = ::mmap(nullptr, file_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  int map_errno = errno;
  ::close(fd);
  if (mapping_->data == MAP_FAILED) fail("{}: mmap failed: {}", path, std::strerror(map_errno));
  mapping_->size = file_size;

  uint64_t header_size = 0;
  std::memcpy(&header_size, mapping_->bytes(), 8);
  if (header_size > file_size - 8)
    fail("{}: header length {} runs past the end of the file ({} bytes): truncated or not safetensors", path,
         header_size, file_size);
  if (header_size > kMaxHeaderBytes) fail("{}: header length {} exceeds the 100 MB limit", path, header_size);
  data_start_ = 8 + header_size;
  const uint64_t buffer_size = file_size - data_start_;

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(mapping_->bytes() + 8, mapping_->bytes() + data_start_);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: invalid JSON header: {}", path, e.what());
  }
  if (!header.is_object()) fail("{}: header is not a JSON object", path);

  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) fail("{}: __metadata__ is not an object", path);
      for (const auto& [key, text] : value.items()) {
        if (!text.is_string()) fail("{}: __metadata__ value of \"{}\" is not a string", path, key);
        metadata_[key] = text.get<std::string>();
      }
      continue;
    }
    auto bad = [&](const std::string& why) { fail("{}: tensor \"{}\": {}", path, name, why); };
    if (!value.is_object()) bad("entry is not an object");
    for (const char* key : {"dtype", "shape", "data_offsets"})
      if (!value.contains(key)) bad(fmt::format("missing \"{}\"", key));
    SafetensorsEntry entry;
    entry.name = name;
    const auto& dtype = value["dtype"];
    const DtypeName* d = dtype.is_string() ? find_dtype(dtype.get<std::string>()) : nullptr;
    if (!d) bad(fmt::format("unsupported dtype {}", dtype.dump()));
    entry.dtype = d->dtype;
    const auto& shape = value["shape"];
    if (!shape.is_array()) bad("shape is not an array");
    uint64_t numel = 1;
    for (const auto& dim : shape) {
      if (!dim.is_number_unsigned()) bad(fmt::format("shape {} has a non-integer or negative dimension", shape.dump()));
      uint64_t n = dim.get<uint64_t>();
      if (n != 0 && numel > UINT64_MAX / n) bad(fmt::format("shape {} overflows", shape.dump()));
      numel *= n;
      entry.shape.push_back(static_cast<int64_t>(n));
    }
    const auto& offsets = value["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned())
      bad(fmt::format("data_offsets {} is not a pair of byte offsets", offsets.dump()));
    entry.begin = offsets[0].get<uint64_t>();
    entry.end = offsets[1].get<uint64_t>();
    if (entry.begin > entry.end || entry.end > buffer_size)
      bad(fmt::format("data_offsets [{}, {}] out of range of the {}-byte data buffer", entry.begin, entry.end,
                      buffer_size));
    const uint64_t expected = numel * torch::elementSize(entry.dtype);
    if (expected != entry.end - entry.begin)
      bad(fmt::format("shape {} of {} needs {} bytes but data_offsets [{}, {}] hold {}", shape_text(entry.shape),
                      d->name, expected, entry.begin, entry.end, entry.end - entry.begin));
    entries_.emplace(name, std::move(entry));
  }

  // As the reference reader: the tensors must tile the buffer exactly, with
  // neither overlap nor gap nor trailing bytes.
  std::vector<const SafetensorsEntry*> by_offset;
  for (const auto& [_, entry] : entries_) by_offset.push_back(&entry);
  std::sort(by_offset.begin(), by_offset.end(),
            [](auto* a, auto* b) { return a->begin != b->begin ? a->begin < b->begin : a->end < b->end; });
  uint64_t cursor = 0;
  for (const auto* entry : by_offset) {
    if (entry->begin < cursor)
      fail("{}: tensor \"{}\": data_offsets [{}, {}] overlap the previous tensor (ending at {})", path, entry->name,
           entry->begin, entry->end, cursor);
    if (entry->begin > cursor)
      fail("{}: tensor \"{}\": data_offsets [{}, {}] leave a gap after byte {}", path, entry->name, entry->begin,
           entry->end, cursor);
    cursor = entry->end;
  }
  if (cursor != buffer_size)
    fail("{}: tensors cover {} bytes but the data buffer holds {}: the buffer is not covered exactly", path, cursor,
         buffer_size);
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  for (const auto& [name, _] : entries_) out.push_back(name);
  return out;
}

const SafetensorsEntry& SafetensorsFile::entry(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) fail("{}: no tensor named \"{}\"", path_, name);
  return it->second;
}

torch::Tensor SafetensorsFile::get(const std::string& name) const {
  const SafetensorsEntry& e = entry(name);
  char* data = static_cast<char*>(mapping_->data) + data_start_ + e.begin;
  auto options = torch::TensorOptions().dtype(e.dtype).device(torch::kCPU);
  // Files written by other tools need not align data to the element size.
  if (reinterpret_cast<uintptr_t>(data) % torch::elementSize(e.dtype) != 0) {
    auto out = torch::empty(e.shape, options);
    std::memcpy(out.data_ptr(), data, e.end - e.begin);
    return out;
  }
  std::shared_ptr<Mapping> keep = mapping_;
  return torch::from_blob(
      data, e.shape, [keep](void*) mutable { keep.reset(); }, options);
}

torch::Tensor SafetensorsFile::get(const std::string& name, torch::Dtype dtype) const {
  torch::Tensor view = get(name);
  return view.scalar_type() == dtype ? view : view.to(dtype);
}

// ---------------------------------------------------------------- sharded

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

SafetensorsReader::SafetensorsReader(const std::string& path) : path_(path) {
  if (!ends_with(path, ".json")) {
    files_.emplace_back(path);
    for (const auto& name : files_.front().names()) owner_[name] = 0;
    return;
  }
  std::ifstream in(path);
  if (!in) fail("{}: cannot open safetensors index: {}", path, std::strerror(errno));
  nlohmann::json index;
  try {
    index = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: invalid JSON: {}", path, e.what());
  }
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
    fail("{}: not a safetensors index: no \"weight_map\" object", path);
  const auto dir = std::filesystem::path(path).parent_path();
  std::map<std::string, size_t> file_index;
  for (const auto& [name, shard] : index["weight_map"].items()) {
    if (!shard.is_string()) fail("{}: weight_map entry \"{}\" is not a file name", path, name);
    const std::string shard_name = shard.get<std::string>();
    auto [it, inserted] = file_index.emplace(shard_name, files_.size());
    if (inserted) files_.emplace_back((dir / shard_name).string());
    if (!files_[it->second].contains(name))
      fail("{}: tensor \"{}\" is mapped to shard {} which does not contain it", path, name, shard_name);
    owner_[name] = it->second;
  }
  if (files_.empty()) fail("{}: weight_map is empty", path);
  // A tensor present in a shard but absent from the index would be silently
  // dropped by HF; treat the pair as inconsistent instead.
  for (size_t i = 0; i < files_.size(); ++i)
    for (const auto& name : files_[i].names()) {
      auto it = owner_.find(name);
      if (it == owner_.end())
        fail("{}: shard {} holds tensor \"{}\" that the weight_map does not list", path, files_[i].path(), name);
      if (it->second != i)
        fail("{}: tensor \"{}\" is in shard {} but the weight_map maps it to {}", path, name, files_[i].path(),
             files_[it->second].path());
    }
}

std::vector<std::string> SafetensorsReader::names() const {
  std::vector<std::string> out;
  for (const auto& [name, _] : owner_) out.push_back(name);
  return out;
}

const SafetensorsFile& SafetensorsReader::file_for(const std::string& name) const {
  auto it = owner_.find(name);
  if (it == owner_.end()) fail("{}: no tensor named \"{}\"", path_, name);
  return files_[it->second];
}

const SafetensorsEntry& SafetensorsReader::entry(const std::string& name) const { return file_for(name).entry(name); }
const std::string& SafetensorsReader::file_of(const std::string& name) const { return file_for(name).path(); }
torch::Tensor SafetensorsReader::get(const std::string& name) const { return file_for(name).get(name); }
torch::Tensor SafetensorsReader::get(const std::string& name, torch::Dtype dtype) const {
  return file_for(name).get(name, dtype);
}

// ---------------------------------------------------------------- writing

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
  struct Item {
    std::string name;
    torch::Tensor data;  // contiguous CPU
    const DtypeName* dtype;
  };
  std::vector<Item> items;
  std::set<std::string> seen;
  for (const auto& [name, tensor] : tensors) {
    if (name == "__metadata__") fail("{}: \"__metadata__\" is reserved and cannot name a tensor", path);
    if (!seen.insert(name).second) fail("{}: tensor \"{}\" given twice", path, name);
    if (!tensor.defined()) fail("{}: tensor \"{}\" is undefined", path, name);
    const DtypeName& dtype = find_dtype(tensor.scalar_type());
    items.push_back({name, tensor.detach().to(torch::kCPU).contiguous(), &dtype});
  }
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    return a.dtype->rank != b.dtype->rank ? a.dtype->rank > b.dtype->rank : a.name < b.name;
  });

  // ordered_json keeps the reference layout: __metadata__ first, then the
  // tensors in data order, each as {dtype, shape, data_offsets}.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& item : items) {
    const uint64_t bytes = item.data.numel() * item.data.element_size();
    header[item.name] = {{"dtype", item.dtype->name},
                         {"shape", item.data.sizes().vec()},
                         {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');

  AtomicFile file(path);
  const uint64_t header_size = text.size();
  file.write(&header_size, 8);
  file.write(text);
  for (const auto& item : items) file.write(item.data.data_ptr(), item.data.numel() * item.data.element_size());
  file.commit();
}

}  // namespace hmt
