#include "model/kv_cache.h"

#include <algorithm>

#include "core/error.h"

namespace hmt {
namespace {

// Storage with room for at least `needed` positions, keeping the first
// `keep` of `old`. Doubling makes T single-token appends cost O(T) copies in
// all rather than O(T^2).
torch::Tensor grown(const torch::Tensor& old, const torch::Tensor& like, int64_t keep, int64_t needed) {
  const int64_t old_capacity = old.defined() ? old.size(2) : 0;
  if (old_capacity >= needed) return old;
  const int64_t capacity = std::max<int64_t>({needed, 2 * old_capacity, 16});
  auto storage = torch::empty({like.size(0), like.size(1), capacity, like.size(3)}, like.options());
  if (keep > 0) storage.narrow(/*dim=*/2, /*start=*/0, /*length=*/keep).copy_(old.narrow(/*dim=*/2, 0, keep));
  return storage;
}

}  // namespace

std::pair<torch::Tensor, torch::Tensor> KvCache::extend(int64_t layer, const torch::Tensor& keys,
                                                        const torch::Tensor& values) {
  HMT_CHECK(keys.dim() == 4 && values.sizes() == keys.sizes(), "kv cache: keys and values must both be [B, Hkv, T, D]");
  HMT_CHECK(layer >= 0 && layer <= static_cast<int64_t>(layers_.size()), "kv cache: layer {} extended before layer {}",
            layer, layers_.size());
  if (layer == static_cast<int64_t>(layers_.size())) layers_.emplace_back();
  Layer& entry = layers_[static_cast<size_t>(layer)];
  const auto& held = entry.keys;
  const bool compatible = held.defined() && held.size(0) == keys.size(0) && held.size(1) == keys.size(1) &&
                          held.size(3) == keys.size(3) && held.scalar_type() == keys.scalar_type() &&
                          held.device() == keys.device();
  HMT_CHECK(compatible || length_ == 0, "kv cache: layer {} gets keys of another shape, dtype or device than it holds",
            layer);
  // After clear() the storage is reused when it fits the new sequence.
  if (!compatible) entry = Layer{};
  const int64_t count = keys.size(2), total = length_ + count;
  entry.keys = grown(entry.keys, keys, length_, total);
  entry.values = grown(entry.values, values, length_, total);
  entry.keys.narrow(/*dim=*/2, length_, count).copy_(keys);
  entry.values.narrow(/*dim=*/2, length_, count).copy_(values);
  return {entry.keys.narrow(/*dim=*/2, 0, total), entry.values.narrow(/*dim=*/2, 0, total)};
}

void KvCache::advance(int64_t count) {
  HMT_CHECK(count >= 0, "kv cache: cannot advance by {}", count);
  length_ += count;
}

int64_t KvCache::storage_bytes() const {
  int64_t bytes = 0;
  for (const auto& layer : layers_)
    for (const auto* t : {&layer.keys, &layer.values})
      if (t->defined()) bytes += t->numel() * static_cast<int64_t>(t->element_size());
  return bytes;
}

}  // namespace hmt
