#pragma once
// The safetensors format (huggingface/safetensors): 8-byte little-endian
// header length N, N bytes of JSON {name: {dtype, shape, data_offsets},
// "__metadata__": {str: str}}, then the data buffer. Reading memory-maps the
// file; tensors are views over the mapping (kept alive by the tensors), so
// opening a 10 GB checkpoint reads only the pages actually used.
#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace hmt {

struct SafetensorsEntry {
  std::string name;
  torch::Dtype dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte offsets into the data buffer
};

// "F32" <-> torch::kFloat32 etc.; errors name the dtype.
torch::Dtype safetensors_dtype(const std::string& name);
std::string safetensors_dtype_name(torch::Dtype dtype);

// One .safetensors file, validated on open: every error names the file (and
// the tensor at fault).
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);

  const std::string& path() const { return path_; }
  std::vector<std::string> names() const;  // sorted
  bool contains(const std::string& name) const { return entries_.count(name) > 0; }
  const SafetensorsEntry& entry(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // A view over the mapping, in the stored dtype. The mapping is private
  // copy-on-write: writing to the tensor never changes the file.
  torch::Tensor get(const std::string& name) const;
  // A copy converted to `dtype` (the view itself when the dtype matches).
  torch::Tensor get(const std::string& name, torch::Dtype dtype) const;

 private:
  struct Mapping;
  std::string path_;
  std::shared_ptr<Mapping> mapping_;
  uint64_t data_start_ = 0;
  std::map<std::string, SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

// A single file or a sharded checkpoint (model.safetensors.index.json, whose
// `weight_map` maps each tensor name to its shard file) behind one interface.
class SafetensorsReader {
 public:
  // `path` is a .safetensors file, or an index .json file.
  explicit SafetensorsReader(const std::string& path);

  const std::string& path() const { return path_; }
  std::vector<std::string> names() const;  // sorted
  bool contains(const std::string& name) const { return owner_.count(name) > 0; }
  const SafetensorsEntry& entry(const std::string& name) const;
  // The shard holding `name` (the file itself when not sharded).
  const std::string& file_of(const std::string& name) const;
  // The first file's __metadata__ (for an index: its shards' are not merged).
  const std::map<std::string, std::string>& metadata() const { return files_.front().metadata(); }

  torch::Tensor get(const std::string& name) const;
  torch::Tensor get(const std::string& name, torch::Dtype dtype) const;

 private:
  const SafetensorsFile& file_for(const std::string& name) const;
  std::string path_;
  std::vector<SafetensorsFile> files_;
  std::map<std::string, size_t> owner_;  // name -> index into files_
};

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// Writes `tensors` (any device, any layout: contiguous CPU copies are taken)
// atomically: temporary file in the same directory, fsync, rename. Data is
// ordered as the reference implementation orders it (wider dtypes first,
// then by name) and the header is padded with spaces to a multiple of 8.
void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace hmt
