#include "model/autocast.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include "core/error.h"

// LibTorch 2.4 made the autocast functions take the device type
// (is_autocast_enabled(kCUDA), set_autocast_dtype(kCPU, ...)) and deprecated
// the per-device names of 1.13 (is_enabled, set_cpu_enabled,
// set_autocast_gpu_dtype, ...).
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define HMT_AUTOCAST_BY_DEVICE_TYPE 1
#endif

namespace hmt {
namespace {

void apply(const AutocastState& state) {
  at::autocast::set_autocast_cache_enabled(state.cache_enabled);
#ifdef HMT_AUTOCAST_BY_DEVICE_TYPE
  at::autocast::set_autocast_enabled(at::kCPU, state.cpu_enabled);
  at::autocast::set_autocast_enabled(at::kCUDA, state.cuda_enabled);
  at::autocast::set_autocast_dtype(at::kCPU, state.cpu_dtype);
  at::autocast::set_autocast_dtype(at::kCUDA, state.cuda_dtype);
#else
  at::autocast::set_cpu_enabled(state.cpu_enabled);
  at::autocast::set_enabled(state.cuda_enabled);
  at::autocast::set_autocast_cpu_dtype(state.cpu_dtype);
  at::autocast::set_autocast_gpu_dtype(state.cuda_dtype);
#endif
}

AutocastState with_dtype(AutocastState state, const torch::Device& device, torch::ScalarType dtype) {
  if (device.is_cuda()) {
    state.cuda_enabled = true;
    state.cuda_dtype = dtype;
  } else {
    HMT_CHECK(device.is_cpu(), "autocast: no autocast for device {}", device.str());
    state.cpu_enabled = true;
    state.cpu_dtype = dtype;
  }
  return state;
}

}  // namespace

AutocastState current_autocast_state() {
  AutocastState state;
  state.cache_enabled = at::autocast::is_autocast_cache_enabled();
#ifdef HMT_AUTOCAST_BY_DEVICE_TYPE
  state.cpu_enabled = at::autocast::is_autocast_enabled(at::kCPU);
  state.cuda_enabled = at::autocast::is_autocast_enabled(at::kCUDA);
  state.cpu_dtype = at::autocast::get_autocast_dtype(at::kCPU);
  state.cuda_dtype = at::autocast::get_autocast_dtype(at::kCUDA);
#else
  state.cpu_enabled = at::autocast::is_cpu_enabled();
  state.cuda_enabled = at::autocast::is_enabled();
  state.cpu_dtype = at::autocast::get_autocast_cpu_dtype();
  state.cuda_dtype = at::autocast::get_autocast_gpu_dtype();
#endif
  return state;
}

std::optional<torch::ScalarType> parse_autocast_dtype(const std::string& value, const std::string& what) {
  if (value == "fp32") return std::nullopt;
  if (value == "bf16") return torch::kBFloat16;
  if (value == "fp16") return torch::kHalf;
  fail("{}: expected fp32, bf16 or fp16, got \"{}\"", what, value);
}

AutocastGuard::AutocastGuard(const AutocastState& state) : previous_(current_autocast_state()), entered_(true) {
  at::autocast::increment_nesting();
  apply(state);
}

AutocastGuard::AutocastGuard(const torch::Device& device, std::optional<torch::ScalarType> dtype)
    : previous_(current_autocast_state()) {
  if (!dtype) return;
  AutocastState state = with_dtype(previous_, device, *dtype);
  entered_ = true;
  at::autocast::increment_nesting();
  apply(state);
}

AutocastGuard::~AutocastGuard() {
  if (!entered_) return;
  apply(previous_);
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
}

}  // namespace hmt
