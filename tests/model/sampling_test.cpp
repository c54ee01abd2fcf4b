// Next-token choice (model/sampling.h): greedy, temperature, top-k, top-p
// against independent computations on hand-made distributions, and the
// sampler's own seeded generator.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <vector>

#include "core/error.h"
#include "model/sampling.h"

namespace hmt {
namespace {

torch::Tensor logits_of_probs(const std::vector<double>& probs) {
  return torch::log(torch::tensor(probs, torch::kDouble));
}

std::vector<double> as_vector(const torch::Tensor& t) {
  auto c = t.to(torch::kDouble).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

SamplingOptions sampling(double temperature, int64_t top_k, double top_p) {
  SamplingOptions o;
  o.temperature = temperature;
  o.top_k = top_k;
  o.top_p = top_p;
  return o;
}

TEST_CASE("sampling: greedy is the argmax, the lowest id among ties", "[sampling]") {
  CHECK(greedy_token(torch::tensor({0.1, 2.5, -1.0, 2.4}, torch::kDouble)) == 1);
  CHECK(greedy_token(torch::tensor({3.0f, 1.0f, 3.0f})) == 0);
  CHECK(greedy_token(torch::tensor({-5.0f})) == 0);
  torch::manual_seed(3);
  auto random = torch::randn({1000});
  CHECK(greedy_token(random) == random.argmax().item<int64_t>());
  SamplingOptions greedy;
  greedy.greedy = true;
  Sampler sampler(greedy, /*seed=*/1);
  for (int i = 0; i < 5; ++i) CHECK(sampler.next(random) == random.argmax().item<int64_t>());
}

TEST_CASE("sampling: top-k = 1 and a tiny temperature both behave as greedy", "[sampling]") {
  torch::manual_seed(8);
  for (int trial = 0; trial < 20; ++trial) {
    auto logits = torch::randn({50}, torch::kFloat) * 3.0;
    const int64_t best = greedy_token(logits);
    Sampler top1(sampling(/*temperature=*/1.0, /*top_k=*/1, /*top_p=*/1.0), /*seed=*/trial);
    Sampler cold(sampling(/*temperature=*/1e-4, /*top_k=*/0, /*top_p=*/1.0), /*seed=*/trial);
    CHECK(top1.next(logits) == best);
    CHECK(cold.next(logits) == best);
  }
}

TEST_CASE("sampling: temperature <= 0 and out-of-range knobs are errors naming the option", "[sampling]") {
  CHECK_THROWS_WITH(Sampler(sampling(0.0, 0, 1.0), 1), Catch::Contains("--temperature") && Catch::Contains("--greedy"));
  CHECK_THROWS_WITH(Sampler(sampling(-1.0, 0, 1.0), 1), Catch::Contains("--temperature"));
  CHECK_THROWS_WITH(Sampler(sampling(1.0, -2, 1.0), 1), Catch::Contains("--top-k"));
  CHECK_THROWS_WITH(Sampler(sampling(1.0, 0, 0.0), 1), Catch::Contains("--top-p"));
  CHECK_THROWS_WITH(Sampler(sampling(1.0, 0, 1.5), 1), Catch::Contains("--top-p"));
  SamplingOptions greedy = sampling(0.0, 0, 1.0);
  greedy.greedy = true;  // greedy ignores the other knobs
  CHECK_NOTHROW(Sampler(greedy, 1));
}

TEST_CASE("sampling: temperature divides the logits before the softmax", "[sampling]") {
  auto logits = torch::tensor({1.0, 2.0, 0.5, -1.0}, torch::kDouble);
  for (double t : {0.5, 1.0, 2.0}) {
    auto dist = as_vector(sampling_distribution(logits, sampling(t, 0, 1.0)));
    std::vector<double> expected;
    double total = 0;
    for (double x : {1.0, 2.0, 0.5, -1.0}) total += std::exp(x / t);
    for (double x : {1.0, 2.0, 0.5, -1.0}) expected.push_back(std::exp(x / t) / total);
    for (size_t i = 0; i < expected.size(); ++i) CHECK(dist[i] == Approx(expected[i]).epsilon(1e-12));
  }
}

TEST_CASE("sampling: top-k keeps the k most likely tokens, renormalised", "[sampling]") {
  const std::vector<double> probs = {0.05, 0.30, 0.10, 0.25, 0.20, 0.10};
  auto dist = as_vector(sampling_distribution(logits_of_probs(probs), sampling(1.0, 3, 1.0)));
  const double kept = 0.30 + 0.25 + 0.20;
  const std::vector<double> expected = {0, 0.30 / kept, 0, 0.25 / kept, 0.20 / kept, 0};
  for (size_t i = 0; i < probs.size(); ++i) CHECK(dist[i] == Approx(expected[i]).margin(1e-12));
  // k beyond the vocabulary keeps everything.
  auto all = as_vector(sampling_distribution(logits_of_probs(probs), sampling(1.0, 100, 1.0)));
  for (size_t i = 0; i < probs.size(); ++i) CHECK(all[i] == Approx(probs[i]).epsilon(1e-12));
}

// The smallest set of most likely tokens whose mass reaches p, found by
// trying every subset size on the sorted probabilities.
std::vector<size_t> nucleus_by_hand(const std::vector<double>& probs, double p) {
  std::vector<size_t> order(probs.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return probs[a] > probs[b]; });
  for (size_t size = 1; size <= order.size(); ++size) {
    double mass = 0;
    for (size_t i = 0; i < size; ++i) mass += probs[order[i]];
    if (mass >= p) return std::vector<size_t>(order.begin(), order.begin() + size);
  }
  return order;
}

TEST_CASE("sampling: top-p keeps the smallest set with cumulative probability >= p", "[sampling]") {
  const std::vector<double> probs = {0.05, 0.30, 0.10, 0.25, 0.20, 0.10};
  // Sorted: 0.30 (1), 0.25 (3), 0.20 (4), 0.10 (2), 0.10 (5), 0.05 (0).
  const std::map<double, std::vector<size_t>> expected = {
      {0.2, {1}},       {0.29, {1}},         {0.31, {1, 3}},         {0.54, {1, 3}},
      {0.6, {1, 3, 4}}, {0.8, {1, 3, 4, 2}}, {0.9, {1, 3, 4, 2, 5}}, {0.96, {1, 3, 4, 2, 5, 0}}};
  // (No p sits exactly on a cumulative sum: rounding would decide those.)
  // The tie 0.10 / 0.10 is broken towards the lower id (2 before 5).
  for (const auto& [p, kept] : expected) {
    INFO("top_p " << p);
    auto by_hand = nucleus_by_hand(probs, p);
    std::vector<size_t> sorted_hand = by_hand, sorted_kept = kept;
    std::sort(sorted_hand.begin(), sorted_hand.end());
    std::sort(sorted_kept.begin(), sorted_kept.end());
    REQUIRE(sorted_hand == sorted_kept);  // the table agrees with the brute force

    auto dist = as_vector(sampling_distribution(logits_of_probs(probs), sampling(1.0, 0, p)));
    double mass = 0;
    for (size_t i : kept) mass += probs[i];
    for (size_t i = 0; i < probs.size(); ++i) {
      const bool in = std::find(kept.begin(), kept.end(), i) != kept.end();
      CHECK(dist[i] == Approx(in ? probs[i] / mass : 0.0).margin(1e-12));
    }
  }
}

TEST_CASE("sampling: top-p applies to the renormalised top-k distribution", "[sampling]") {
  const std::vector<double> probs = {0.05, 0.30, 0.10, 0.25, 0.20, 0.10};
  // Top-3 renormalised: 0.4, 0.333, 0.267; p = 0.7 needs the first two.
  auto dist = as_vector(sampling_distribution(logits_of_probs(probs), sampling(1.0, 3, 0.7)));
  CHECK(dist[1] == Approx(0.30 / 0.55).epsilon(1e-12));
  CHECK(dist[3] == Approx(0.25 / 0.55).epsilon(1e-12));
  CHECK(dist[4] == 0.0);
}

TEST_CASE("sampling: draws follow the distribution, the same seed gives the same draws", "[sampling]") {
  const std::vector<double> probs = {0.1, 0.6, 0.3};
  auto logits = logits_of_probs(probs);
  Sampler a(sampling(1.0, 0, 1.0), /*seed=*/42), b(sampling(1.0, 0, 1.0), /*seed=*/42);
  Sampler c(sampling(1.0, 0, 1.0), /*seed=*/43);
  std::vector<int64_t> draws_a, draws_b, draws_c;
  std::vector<int64_t> counts(3, 0);
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    draws_a.push_back(a.next(logits));
    // torch's global generator does not feed the sampler.
    torch::manual_seed(i);
    draws_b.push_back(b.next(logits));
    draws_c.push_back(c.next(logits));
    ++counts[draws_a.back()];
  }
  CHECK(draws_a == draws_b);
  CHECK(draws_a != draws_c);
  for (size_t i = 0; i < probs.size(); ++i) {
    INFO("token " << i);
    // 5 standard deviations of a binomial count.
    const double sd = std::sqrt(n * probs[i] * (1 - probs[i]));
    CHECK(std::abs(static_cast<double>(counts[i]) - n * probs[i]) < 5 * sd);
  }
}

TEST_CASE("sampling: tokens outside top-k / top-p are never drawn, float32 logits work", "[sampling]") {
  auto logits = torch::tensor({2.0f, 1.9f, 1.8f, -3.0f, 0.0f});
  Sampler sampler(sampling(1.5, 2, 1.0), /*seed=*/7);
  std::vector<int64_t> seen(5, 0);
  for (int i = 0; i < 2000; ++i) ++seen[sampler.next(logits)];
  CHECK(seen[0] > 0);
  CHECK(seen[1] > 0);
  CHECK(seen[2] + seen[3] + seen[4] == 0);
}

}  // namespace
}  // namespace hmt
