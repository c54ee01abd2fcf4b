#include "model/sampling.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "core/error.h"

namespace hmt {
namespace {

torch::Tensor host_row(const torch::Tensor& logits) {
  HMT_CHECK(logits.defined() && logits.dim() == 1 && logits.size(0) >= 1,
            "sampling: logits must be one non-empty row [V]");
  HMT_CHECK(logits.is_floating_point(), "sampling: logits must be floating point");
  auto row = logits.detach().to(torch::kCPU, torch::kDouble).contiguous();
  HMT_CHECK(!torch::isnan(row).any().item<bool>(), "sampling: logits contain NaN");
  return row;
}

}  // namespace

void check_sampling_options(const SamplingOptions& options) {
  if (options.greedy) return;
  HMT_CHECK(std::isfinite(options.temperature) && options.temperature > 0.0,
            "--temperature must be > 0, got {} (use --greedy for deterministic argmax decoding)", options.temperature);
  HMT_CHECK(options.top_k >= 0, "--top-k must be >= 0 (0 = no limit), got {}", options.top_k);
  HMT_CHECK(options.top_p > 0.0 && options.top_p <= 1.0, "--top-p must be in (0, 1] (1 = no limit), got {}",
            options.top_p);
}

int64_t greedy_token(const torch::Tensor& logits) {
  auto row = host_row(logits);
  auto values = row.accessor<double, 1>();
  int64_t best = 0;
  for (int64_t i = 1; i < row.size(0); ++i)
    if (values[i] > values[best]) best = i;
  return best;
}

torch::Tensor sampling_distribution(const torch::Tensor& logits, const SamplingOptions& options) {
  check_sampling_options(options);
  auto row = host_row(logits) / options.temperature;
  const int64_t vocab = row.size(0);
  const bool truncated = (options.top_k > 0 && options.top_k < vocab) || options.top_p < 1.0;
  if (!truncated) return torch::softmax(row, /*dim=*/0);  // no sort needed
  // Stable descending sort: equal logits keep id order, so the border
  // between kept and dropped tokens is reproducible.
  auto [sorted, order] = torch::sort(row, /*stable=*/true, /*dim=*/0, /*descending=*/true);
  const int64_t top_k = options.top_k > 0 ? std::min(options.top_k, vocab) : vocab;
  auto probs = torch::softmax(sorted.narrow(/*dim=*/0, 0, top_k), /*dim=*/0);
  int64_t keep = top_k;
  if (options.top_p < 1.0) {
    // The smallest prefix of the sorted distribution whose mass reaches p.
    auto p = probs.accessor<double, 1>();
    double mass = 0;
    for (int64_t i = 0; i < top_k; ++i) {
      mass += p[i];
      if (mass >= options.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  auto kept = probs.narrow(/*dim=*/0, 0, keep);
  kept = kept / kept.sum();
  return torch::zeros({vocab}, torch::kDouble).scatter_(/*dim=*/0, order.narrow(/*dim=*/0, 0, keep), kept);
}

Sampler::Sampler(SamplingOptions options, uint64_t seed)
    : options_(options), generator_(at::detail::createCPUGenerator(seed)) {
  check_sampling_options(options_);
}

int64_t Sampler::next(const torch::Tensor& logits) {
  if (options_.greedy) return greedy_token(logits);
  auto dist = sampling_distribution(logits, options_);
  const double u = torch::rand({1}, generator_, torch::TensorOptions().dtype(torch::kDouble)).item<double>();
  // Inverse CDF in id order; the last token with probability > 0 catches a
  // u that rounding leaves above the final cumulative sum.
  auto p = dist.accessor<double, 1>();
  double cumulative = 0;
  int64_t last = 0;
  for (int64_t i = 0; i < dist.size(0); ++i) {
    if (p[i] <= 0.0) continue;
    cumulative += p[i];
    last = i;
    if (u < cumulative) return i;
  }
  return last;
}

}  // namespace hmt
