#pragma once
// One training step of a tiny HMT model for the autocast and CUDA tests:
// forward under an autocast state (none: fp32), backward outside it, as with
// torch.autocast; the gradients come back on the CPU.
#include <torch/torch.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model/hmt_model.h"
#include "model/autocast.h"
#include "model/segment_runner.h"

namespace hmt::test {

struct AutocastStep {
  double loss = 0;
  std::vector<double> segment_nll;
  std::map<std::string, torch::Tensor> grads;  // on the CPU
  torch::Tensor after;                         // the model device generator's next draw after backward
};

inline AutocastStep autocast_step(HmtModel& model, const torch::Tensor& ids, const torch::Tensor& mask, bool checkpoint,
                                  const std::optional<AutocastState>& autocast, uint64_t seed) {
  const auto device = model.memory_init().device();
  model.zero_grad();
  for (auto& p : model.parameters()) p.mutable_grad() = torch::Tensor();
  torch::manual_seed(seed);  // seeds the CUDA generators too
  RunnerOptions options;
  options.checkpoint = checkpoint;
  BatchNll run = [&] {
    std::optional<AutocastGuard> guard;
    if (autocast) guard.emplace(*autocast);
    return run_segments(model, ids, mask, /*score_mask=*/{}, options);
  }();
  run.loss.backward();
  AutocastStep out;
  out.loss = run.loss.item<double>();
  for (const auto& segment : run.segments) out.segment_nll.push_back(segment.nll_sum);
  for (const auto& item : model.named_parameters())
    if (item.value().grad().defined()) out.grads[item.key()] = item.value().grad().to(torch::kCPU).clone();
  out.after = torch::rand({4}, torch::TensorOptions().device(device)).to(torch::kCPU);
  return out;
}

// Autocast to `dtype` on `device` only, with or without the weight-cast cache.
inline AutocastState autocast_to(const torch::Device& device, torch::ScalarType dtype, bool cache = true) {
  AutocastState state;
  if (device.is_cuda()) {
    state.cuda_enabled = true;
    state.cuda_dtype = dtype;
  } else {
    state.cpu_enabled = true;
    state.cpu_dtype = dtype;
  }
  state.cache_enabled = cache;
  return state;
}

}  // namespace hmt::test
