#pragma once
// The compute device: choosing it from a name, waiting for it, and the
// memory LibTorch's CUDA caching allocator holds on it. Works with a CPU
// LibTorch (this project's CI) and a CUDA one; the CUDA parts then fail with
// an hmt::Error that says so.
#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace hmt {

// "cpu", "cuda" or "cuda:N"; `what` names the option or key in errors (e.g.
// "score --device"), which also say when no CUDA device is visible.
torch::Device resolve_device(const std::string& name, const std::string& what);

// Whether this process sees a CUDA device (false with a CPU LibTorch).
bool cuda_present();

// Waits for the work queued on `device` (nothing to wait for on the CPU), so
// that a host clock read afterwards covers it.
void synchronize(const torch::Device& device);

struct DeviceMemory {
  int64_t allocated_bytes = 0;       // held by tensors now
  int64_t peak_allocated_bytes = 0;  // most held by tensors since the last reset
  int64_t reserved_bytes = 0;        // taken from the driver (cached included)
  int64_t peak_reserved_bytes = 0;
};

// The caching allocator's statistics for a CUDA device; throws for a CPU
// device or a CPU LibTorch.
DeviceMemory device_memory(const torch::Device& device);
void reset_device_peak_memory(const torch::Device& device);

}  // namespace hmt
