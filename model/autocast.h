#pragma once
// Mixed-precision autocast regions (bf16 or fp16 matmuls, fp32 weights and
// reductions) on LibTorch 1.13 and 2.x, whose at::autocast functions differ
// in name. Autocast is thread-local state: a region covers the forward pass,
// and a checkpointed pass recomputed during backward must re-enter the
// region its forward ran in (model/segment_checkpoint.cpp), or the
// recomputation runs in fp32 and its gradients no longer match the forward.
#include <torch/torch.h>

#include <optional>
#include <string>

namespace hmt {

// The autocast settings of the calling thread for the CPU and CUDA.
struct AutocastState {
  bool cpu_enabled = false;
  bool cuda_enabled = false;
  torch::ScalarType cpu_dtype = torch::kBFloat16;
  torch::ScalarType cuda_dtype = torch::kHalf;
  // Whether an fp32 weight is cast once per region and the copy reused. With
  // it, a weight used by S segments gets one low-precision gradient summed
  // over them before its cast back to fp32; without it, S fp32 gradients.
  bool cache_enabled = true;
};

AutocastState current_autocast_state();

// "fp32" (no autocast), "bf16" or "fp16" as the lower-precision dtype; throws
// hmt::Error naming `what` (e.g. "bench --dtype") otherwise.
std::optional<torch::ScalarType> parse_autocast_dtype(const std::string& value, const std::string& what);

// Sets `state` for its lifetime and then restores the previous one. Like
// Python's torch.autocast it counts nesting, and leaving the outermost
// region clears the cache of lower-precision weight copies, so that weights
// updated by an optimizer step are cast afresh in the next region.
class AutocastGuard {
 public:
  explicit AutocastGuard(const AutocastState& state);
  // Autocast to `dtype` on `device`'s type (the other device type keeps its
  // setting); no dtype: this guard changes nothing.
  AutocastGuard(const torch::Device& device, std::optional<torch::ScalarType> dtype);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  AutocastState previous_;
  bool entered_ = false;
};

}  // namespace hmt
