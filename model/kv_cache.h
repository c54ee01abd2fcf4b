#pragma once
// The keys and values a backbone has already computed for the positions of
// one sequence, so that Backbone::forward_cached runs only the new positions
// (incremental decoding). One entry per attention layer, stored as the
// attention reads them ([B, Hkv, T, D], keys after RoPE for llama), in
// storage that grows by doubling so that appending one token does not copy
// the whole history.
#include <torch/torch.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace hmt {

class KvCache {
 public:
  KvCache() = default;

  // Positions held; the next forward_cached call numbers its first new
  // position length() (OPT then adds its offset of 2 like forward() does).
  int64_t length() const { return length_; }
  bool empty() const { return length_ == 0; }
  // Drops every position; storage is kept for the next sequence.
  void clear() { length_ = 0; }

  // Writes `keys` and `values` ([B, Hkv, T, D]) of `layer` at positions
  // [length(), length() + T) and returns views of the layer's keys and values
  // over [0, length() + T). Every layer of one call must extend by the same
  // T; advance(T) commits them afterwards. Layers are numbered from 0 in
  // order of first use.
  std::pair<torch::Tensor, torch::Tensor> extend(int64_t layer, const torch::Tensor& keys, const torch::Tensor& values);
  // Commits `count` positions after every layer has been extended by them.
  void advance(int64_t count);

  // Bytes of storage held (capacity, not length), for diagnostics.
  int64_t storage_bytes() const;

 private:
  struct Layer {
    torch::Tensor keys, values;  // [B, Hkv, capacity, D]
  };
  std::vector<Layer> layers_;
  int64_t length_ = 0;
};

}  // namespace hmt
