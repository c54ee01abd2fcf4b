#include "core/device.h"

#include <optional>

#ifdef HMT_TORCH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include "core/error.h"

namespace hmt {
namespace {

c10::DeviceIndex cuda_index(const torch::Device& device, const char* what) {
  HMT_CHECK(device.is_cuda(), "{}: {} is not a CUDA device", what, device.str());
  return device.has_index() ? device.index() : 0;
}

}  // namespace

bool cuda_present() { return torch::cuda::is_available(); }

torch::Device resolve_device(const std::string& name, const std::string& what) {
  if (name == "cpu") return torch::kCPU;
  HMT_CHECK(name == "cuda" || name.rfind("cuda:", 0) == 0, "{}: expected cpu, cuda or cuda:N, got \"{}\"", what, name);
  std::optional<torch::Device> device;
  try {
    device.emplace(name);
  } catch (const std::exception&) {
    fail("{}: \"{}\" is not a device name (cpu, cuda or cuda:N)", what, name);
  }
#ifndef HMT_TORCH_CUDA
  fail("{}: {} asked for, but this build uses a CPU LibTorch; build against a CUDA LibTorch (docs/gpu.md)", what, name);
#endif
  const auto count = static_cast<int64_t>(torch::cuda::device_count());
  HMT_CHECK(count > 0, "{}: {} asked for, but no CUDA device is visible (check CUDA_VISIBLE_DEVICES and the driver)",
            what, name);
  HMT_CHECK(!device->has_index() || device->index() < count, "{}: {} asked for, but only {} CUDA device(s) are visible",
            what, name, count);
  return *device;
}

void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(cuda_index(device, "synchronize"));
}

DeviceMemory device_memory(const torch::Device& device) {
  const auto index = cuda_index(device, "device_memory");
#ifdef HMT_TORCH_CUDA
  // Element 0 is StatType::AGGREGATE (both pools). The enum moved between
  // namespaces in LibTorch 2.x; its value did not.
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(index);
  DeviceMemory memory;
  memory.allocated_bytes = stats.allocated_bytes[0].current;
  memory.peak_allocated_bytes = stats.allocated_bytes[0].peak;
  memory.reserved_bytes = stats.reserved_bytes[0].current;
  memory.peak_reserved_bytes = stats.reserved_bytes[0].peak;
  return memory;
#else
  fail("device_memory: cuda:{} asked for, but this build uses a CPU LibTorch", static_cast<int>(index));
#endif
}

void reset_device_peak_memory(const torch::Device& device) {
  const auto index = cuda_index(device, "reset_device_peak_memory");
#ifdef HMT_TORCH_CUDA
  c10::cuda::CUDACachingAllocator::resetPeakStats(index);
#else
  fail("reset_device_peak_memory: cuda:{} asked for, but this build uses a CPU LibTorch", static_cast<int>(index));
#endif
}

}  // namespace hmt
