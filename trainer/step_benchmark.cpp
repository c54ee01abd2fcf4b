#include "trainer/step_benchmark.h"

#include <torch/csrc/autograd/profiler_legacy.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <unordered_set>

#include "core/device.h"
#include "core/error.h"
#include "core/experiment_config.h"
#include "core/peak_memory.h"
#include "model/backbone.h"
#include "model/hmt_model.h"
#include "model/scratch_config.h"
#include "model/autocast.h"
#include "model/segment_runner.h"

namespace hmt {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

double median(std::vector<double> values) {
  HMT_CHECK(!values.empty(), "median of no values");
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  return values.size() % 2 ? values[mid] : 0.5 * (values[mid - 1] + values[mid]);
}

// N of MFU: every backbone parameter but the input-embedding lookup table,
// which is a gather, not a matmul. The head is untied here, so it counts.
int64_t matmul_parameters(Backbone& backbone) {
  int64_t total = 0;
  std::unordered_set<const void*> seen;
  for (const auto& p : backbone.parameters())
    if (seen.insert(p.unsafeGetTensorImpl()).second) total += p.numel();
  const auto& config = backbone.config();
  return total - config.vocab_size * config.embed_dim();
}

}  // namespace

StepBenchmarkResult run_step_benchmark(const StepBenchmarkOptions& options) {
  HMT_CHECK(options.segments >= 1 && options.steps >= 1 && options.batch >= 1,
            "bench: segments, steps and batch must be >= 1");
  const torch::Device device = resolve_device(options.device, "bench --device");
  const auto autocast_dtype = parse_autocast_dtype(options.dtype, "bench --dtype");
  ModelConfig model_config;
  model_config.type = std::string("llama");
  model_config.vocab_size = options.vocab;
  model_config.hidden_size = options.hidden;
  model_config.num_layers = options.layers;
  model_config.num_heads = options.heads;
  model_config.tie_word_embeddings = false;
  HmtConfig hmt_config;
  hmt_config.segment_length = options.segment_length;
  hmt_config.num_sensory = options.sensory;
  hmt_config.recall.enabled = options.recall;

  // Built and drawn on the CPU, then moved: the same seed gives the same
  // model and ids on every device.
  torch::manual_seed(options.seed);
  HmtModel model(make_backbone(scratch_backbone_config(model_config)), hmt_config);
  model.to(device);
  model.train();
  const int64_t length = options.segments * options.segment_length;
  auto ids = torch::randint(options.vocab, {options.batch, length}, torch::kInt64).to(device);
  RunnerOptions runner;
  runner.checkpoint = options.checkpoint;
  runner.loss_scope = LossScope::All;

  StepBenchmarkResult result;
  result.options = options;
  result.content_tokens = options.batch * length;
  result.model_parameters = matmul_parameters(model.backbone());
  result.baseline_rss_bytes = resident_memory().rss_bytes;
  result.peak_matmul_n = options.peak_matmul_n > 0 ? options.peak_matmul_n : device.is_cuda() ? 8192 : 2048;
  result.peak_flops = matmul_peak_flops(result.peak_matmul_n, /*repeats=*/device.is_cuda() ? 10 : 5, device,
                                        autocast_dtype.value_or(torch::kFloat));
  result.peak_reset = reset_peak_memory();
  if (device.is_cuda()) {
    result.baseline_device_bytes = device_memory(device).allocated_bytes;
    reset_device_peak_memory(device);
  }

  // Step 0 warms up the allocator and the thread pool (on CUDA also the
  // cuBLAS handles); with a profile, one extra untimed step is recorded (the
  // profiler slows what it records). The forward runs in the autocast region,
  // the backward outside it, as with torch.autocast; checkpointed passes
  // re-enter it when they are recomputed.
  const int64_t last = options.steps + (options.profile.empty() ? 0 : 1);
  for (int64_t step = 0; step <= last; ++step) {
    const bool profiled = step > options.steps;
    std::optional<torch::autograd::profiler::RecordProfile> profile;
    if (profiled) profile.emplace(options.profile);
    model.zero_grad();
    synchronize(device);
    const auto start = Clock::now();
    BatchNll run = [&] {
      AutocastGuard autocast(device, autocast_dtype);
      return run_segments(model, ids, /*mask=*/{}, /*score_mask=*/{}, runner);
    }();
    run.loss.backward();
    synchronize(device);
    const double seconds = seconds_since(start);
    result.processed_tokens = run.processed_tokens;
    if (step > 0 && !profiled) result.step_seconds.push_back(seconds);
  }
  result.median_seconds = median(result.step_seconds);
  result.model_flops = 6.0 * static_cast<double>(result.model_parameters) *
                       static_cast<double>(result.processed_tokens);
  result.peak_rss_bytes = resident_memory().peak_bytes;
  if (device.is_cuda()) result.peak_device_bytes = device_memory(device).peak_allocated_bytes;
  return result;
}

double matmul_peak_flops(int64_t n, int repeats, const torch::Device& device, torch::ScalarType dtype) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(/*seed=*/0);
  // Random data: zeros run measurably faster on GPUs.
  const auto options = torch::TensorOptions().device(device).dtype(dtype);
  auto a = torch::randn({n, n}, options), b = torch::randn({n, n}, options);
  auto c = torch::mm(a, b);  // warm-up: thread pool and BLAS buffers, cuBLAS handle and kernel choice
  for (int i = 0; i < 2 && device.is_cuda(); ++i) torch::mm_out(c, a, b);
  synchronize(device);
  double best = 0;
  for (int i = 0; i < repeats; ++i) {
    const auto start = Clock::now();
    torch::mm_out(c, a, b);
    synchronize(device);
    const double seconds = seconds_since(start);
    best = i == 0 ? seconds : std::min(best, seconds);
  }
  return 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n) / best;
}

nlohmann::json to_json(const StepBenchmarkResult& r) {
  const auto& o = r.options;
  return {{"segments", o.segments},
          {"checkpoint", o.checkpoint},
          {"vocab", o.vocab},
          {"hidden", o.hidden},
          {"layers", o.layers},
          {"heads", o.heads},
          {"segment_length", o.segment_length},
          {"batch", o.batch},
          {"sensory", o.sensory},
          {"steps", o.steps},
          {"seed", o.seed},
          {"step_seconds", r.step_seconds},
          {"median_seconds", r.median_seconds},
          {"content_tokens", r.content_tokens},
          {"processed_tokens", r.processed_tokens},
          {"model_parameters", r.model_parameters},
          {"model_flops", r.model_flops},
          {"baseline_rss_bytes", r.baseline_rss_bytes},
          {"peak_rss_bytes", r.peak_rss_bytes},
          {"peak_reset", r.peak_reset},
          {"peak_flops", r.peak_flops},
          {"device", o.device},
          {"dtype", o.dtype},
          {"recall", o.recall},
          {"peak_matmul_n", r.peak_matmul_n},
          {"baseline_device_bytes", r.baseline_device_bytes},
          {"peak_device_bytes", r.peak_device_bytes}};
}

StepBenchmarkResult step_benchmark_from_json(const nlohmann::json& j) {
  StepBenchmarkResult r;
  auto& o = r.options;
  try {
    j.at("segments").get_to(o.segments);
    j.at("checkpoint").get_to(o.checkpoint);
    j.at("vocab").get_to(o.vocab);
    j.at("hidden").get_to(o.hidden);
    j.at("layers").get_to(o.layers);
    j.at("heads").get_to(o.heads);
    j.at("segment_length").get_to(o.segment_length);
    j.at("batch").get_to(o.batch);
    j.at("sensory").get_to(o.sensory);
    j.at("steps").get_to(o.steps);
    j.at("seed").get_to(o.seed);
    j.at("step_seconds").get_to(r.step_seconds);
    j.at("median_seconds").get_to(r.median_seconds);
    j.at("content_tokens").get_to(r.content_tokens);
    j.at("processed_tokens").get_to(r.processed_tokens);
    j.at("model_parameters").get_to(r.model_parameters);
    j.at("model_flops").get_to(r.model_flops);
    j.at("baseline_rss_bytes").get_to(r.baseline_rss_bytes);
    j.at("peak_rss_bytes").get_to(r.peak_rss_bytes);
    j.at("peak_reset").get_to(r.peak_reset);
    j.at("peak_flops").get_to(r.peak_flops);
    j.at("device").get_to(o.device);
    j.at("dtype").get_to(o.dtype);
    j.at("recall").get_to(o.recall);
    j.at("peak_matmul_n").get_to(r.peak_matmul_n);
    j.at("baseline_device_bytes").get_to(r.baseline_device_bytes);
    j.at("peak_device_bytes").get_to(r.peak_device_bytes);
  } catch (const nlohmann::json::exception& e) {
    fail("bench: malformed result of a configuration: {}", e.what());
  }
  return r;
}

}  // namespace hmt
