#pragma once
// One HMT training step (forward + backward through run_segments, loss_scope
// all, recall on or off) of a from-scratch llama model, timed, on the CPU or a CUDA
// device, in fp32 or under bf16/fp16 autocast; and the matmul peak of the
// same device and dtype that MFU is measured against. `hmt bench` runs each configuration in
// its own process so that the peak resident memory is per configuration.
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace hmt {

struct StepBenchmarkOptions {
  int64_t vocab = 8192, hidden = 512, layers = 4, heads = 4;
  int64_t segment_length = 128, sensory = 16;
  int64_t batch = 4;  // documents per step (B rows of S x L tokens)
  int64_t segments = 2;
  bool checkpoint = false;
  int64_t steps = 3;  // timed steps, after one warm-up step
  uint64_t seed = 1234;
  std::string profile;         // non-empty: one more, untimed step is recorded as a chrome trace to this file
  std::string device = "cpu";  // cpu, cuda, cuda:N
  std::string dtype = "fp32";  // fp32, or bf16 / fp16 autocast (weights stay fp32)
  int64_t peak_matmul_n = 0;   // n of the n^3 peak matmul; 0 = 2048 on the CPU, 8192 on CUDA
  bool recall = true;          // memory recall (stage 2); false: stage 1
};

struct StepBenchmarkResult {
  StepBenchmarkOptions options;
  std::vector<double> step_seconds;  // each timed step
  double median_seconds = 0;
  int64_t content_tokens = 0;      // B * S * L: the documents' tokens per step
  int64_t processed_tokens = 0;    // through the backbone: + memory slots, sensory, summary passes
  int64_t model_parameters = 0;    // N: backbone parameters used as matmul weights (not the input lookup)
  double model_flops = 0;          // per step: 6 * N * processed_tokens (recomputation not counted)
  int64_t baseline_rss_bytes = 0;  // after building the model, before the first step
  int64_t peak_rss_bytes = 0;      // VmHWM at the end
  bool peak_reset = false;         // VmHWM was reset after setup (else: since process start)
  double peak_flops = 0;           // matmul peak (device, dtype) timed in this process just before the steps
  int64_t peak_matmul_n = 0;       // its n
  // CUDA only (0 on the CPU): the caching allocator's bytes held by tensors
  // after building the model, and the most held during the steps.
  int64_t baseline_device_bytes = 0;
  int64_t peak_device_bytes = 0;

  double mfu() const { return flops_per_second() / peak_flops; }

  double tokens_per_second() const { return content_tokens / median_seconds; }
  double flops_per_second() const { return model_flops / median_seconds; }
};

// Builds the model (seeded), times the matmul peak, then runs
// 1 + options.steps steps in this process. The peak is timed right before the
// steps so that MFU compares two measurements taken under the same load.
StepBenchmarkResult run_step_benchmark(const StepBenchmarkOptions& options);

// FLOP/s of the best of `repeats` n x n x n matmuls (2 n^3 FLOPs each) of
// random `dtype` matrices on `device`, after untimed warm-ups.
double matmul_peak_flops(int64_t n = 2048, int repeats = 5, const torch::Device& device = torch::kCPU,
                         torch::ScalarType dtype = torch::kFloat);

nlohmann::json to_json(const StepBenchmarkResult& result);
StepBenchmarkResult step_benchmark_from_json(const nlohmann::json& json);

}  // namespace hmt
