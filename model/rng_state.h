#pragma once
// The random generator states a recomputed pass must replay so that its
// dropout masks equal the first run's: torch's default CPU generator and, for
// a pass on a CUDA device, that device's default generator.
#include <torch/torch.h>

namespace hmt {

struct RngState {
  torch::Tensor cpu;
  torch::Tensor accelerator;  // undefined unless the pass runs on a CUDA device
  torch::Device device = torch::kCPU;
};

// `device`: where the pass runs (its CUDA generator is captured too).
RngState capture_rng_state(const torch::Device& device);
void restore_rng_state(const RngState& state);

}  // namespace hmt
