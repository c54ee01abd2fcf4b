// core/device: names resolve to devices or to errors that say why; the
// caching allocator's statistics follow real allocations on a GPU.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "core/device.h"
#include "core/error.h"
#include "tests/test_paths.h"

namespace hmt {
namespace {

TEST_CASE("device: cpu resolves, bad names and missing CUDA are errors naming the option", "[device]") {
  CHECK(resolve_device("cpu", "x --device") == torch::Device(torch::kCPU));
  CHECK_THROWS_WITH(resolve_device("gpu", "x --device"), "x --device: expected cpu, cuda or cuda:N, got \"gpu\"");
  CHECK_THROWS_WITH(resolve_device("cuda:x", "x --device"),
                    "x --device: \"cuda:x\" is not a device name (cpu, cuda or cuda:N)");
  CHECK_THROWS_WITH(device_memory(torch::kCPU), "device_memory: cpu is not a CUDA device");
  synchronize(torch::kCPU);  // nothing to wait for, and no error
  if (cuda_present()) {
    const auto count = static_cast<int64_t>(torch::cuda::device_count());
    CHECK(resolve_device("cuda", "x --device").is_cuda());
    CHECK_THROWS_WITH(resolve_device("cuda:" + std::to_string(count), "x --device"),
                      Catch::Contains("only " + std::to_string(count) + " CUDA device(s) are visible"));
    return;
  }
#ifdef HMT_TORCH_CUDA
  CHECK_THROWS_WITH(resolve_device("cuda", "x --device"), Catch::Contains("no CUDA device is visible"));
#else
  CHECK_THROWS_WITH(resolve_device("cuda:0", "x --device"),
                    "x --device: cuda:0 asked for, but this build uses a CPU LibTorch; build against a CUDA "
                    "LibTorch (docs/gpu.md)");
  CHECK_THROWS_WITH(device_memory(torch::Device("cuda:0")),
                    "device_memory: cuda:0 asked for, but this build uses a CPU LibTorch");
#endif
}

TEST_CASE("device: the caching allocator's current and peak bytes follow a 64 MiB tensor", "[device][cuda]") {
  HMT_REQUIRE_CUDA();
  const torch::Device cuda(torch::kCUDA, 0);
  const int64_t bytes = 64 << 20;
  synchronize(cuda);
  reset_device_peak_memory(cuda);
  const auto before = device_memory(cuda);
  CHECK(before.peak_allocated_bytes == before.allocated_bytes);
  {
    auto block = torch::empty({bytes / 4}, torch::TensorOptions().device(cuda).dtype(torch::kFloat));
    const auto held = device_memory(cuda);
    CHECK(held.allocated_bytes == before.allocated_bytes + bytes);
    CHECK(held.peak_allocated_bytes >= held.allocated_bytes);
    CHECK(held.reserved_bytes >= held.allocated_bytes);
  }
  const auto after = device_memory(cuda);
  CHECK(after.allocated_bytes == before.allocated_bytes);
  CHECK(after.peak_allocated_bytes >= before.allocated_bytes + bytes);  // the peak outlives the tensor
  reset_device_peak_memory(cuda);
  CHECK(device_memory(cuda).peak_allocated_bytes == after.allocated_bytes);
}

}  // namespace
}  // namespace hmt
