#include "model/rng_state.h"

#include <mutex>

namespace hmt {
namespace {

// Context::defaultGenerator(Device) compiles in CPU-only builds and is only
// reached for CUDA devices at run time, so no #ifdef is needed.
at::Generator generator_of(const torch::Device& device) { return at::globalContext().defaultGenerator(device); }

torch::Tensor state_of(at::Generator generator) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get_state();
}

void set_state_of(at::Generator generator, const torch::Tensor& state) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state);
}

}  // namespace

RngState capture_rng_state(const torch::Device& device) {
  RngState state;
  state.cpu = state_of(generator_of(torch::kCPU));
  if (device.is_cuda()) {
    state.device = device;
    state.accelerator = state_of(generator_of(device));
  }
  return state;
}

void restore_rng_state(const RngState& state) {
  set_state_of(generator_of(torch::kCPU), state.cpu);
  if (state.accelerator.defined()) set_state_of(generator_of(state.device), state.accelerator);
}

}  // namespace hmt
