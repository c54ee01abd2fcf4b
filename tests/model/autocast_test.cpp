// model/autocast: the guard sets and restores the thread's autocast state,
// and a checkpointed run under autocast recomputes in the same precision as
// its forward (else its gradients are those of an fp32 recomputation). Runs
// on the CPU (bf16 CPU autocast); tests/trainer/cuda_parity_test.cpp does the
// same on a GPU.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <algorithm>

#include "core/error.h"
#include "tests/model/autocast_step.h"
#include "tests/model/hmt_fixtures.h"
#include "model/autocast.h"
#include "model/segment_runner.h"

namespace hmt {
namespace {

using test::relative_difference;

TEST_CASE("autocast: the guard sets the state for its scope, nests, and restores it", "[autocast]") {
  const auto outside = current_autocast_state();
  REQUIRE_FALSE(outside.cpu_enabled);
  auto a = torch::randn({4, 8}), w = torch::randn({3, 8});
  {
    AutocastGuard guard(torch::kCPU, torch::kBFloat16);
    CHECK(current_autocast_state().cpu_enabled);
    CHECK(current_autocast_state().cpu_dtype == torch::kBFloat16);
    CHECK(current_autocast_state().cuda_enabled == outside.cuda_enabled);
    CHECK(torch::nn::functional::linear(a, w).scalar_type() == torch::kBFloat16);
    {
      AutocastGuard fp32(torch::kCPU, std::nullopt);  // changes nothing
      CHECK(current_autocast_state().cpu_enabled);
    }
    {
      AutocastState off = current_autocast_state();
      off.cpu_enabled = false;
      AutocastGuard inner(off);
      CHECK(torch::nn::functional::linear(a, w).scalar_type() == torch::kFloat);
    }
    CHECK(current_autocast_state().cpu_enabled);
  }
  const auto after = current_autocast_state();
  CHECK_FALSE(after.cpu_enabled);
  CHECK(after.cpu_dtype == outside.cpu_dtype);
  CHECK(torch::nn::functional::linear(a, w).scalar_type() == torch::kFloat);
}

TEST_CASE("autocast: dtype names", "[autocast]") {
  CHECK_FALSE(parse_autocast_dtype("fp32", "x --dtype").has_value());
  CHECK(parse_autocast_dtype("bf16", "x --dtype") == torch::kBFloat16);
  CHECK(parse_autocast_dtype("fp16", "x --dtype") == torch::kHalf);
  CHECK_THROWS_WITH(parse_autocast_dtype("fp8", "x --dtype"), "x --dtype: expected fp32, bf16 or fp16, got \"fp8\"");
}

TEST_CASE("autocast: a checkpointed bf16 run recomputes under bf16 and equals the plain bf16 run",
          "[autocast][segment_checkpoint]") {
  auto config = test::tiny_hmt_config(/*segment_length=*/4, /*sensory=*/2, /*recall=*/true, /*context=*/3);
  auto model = test::tiny_hmt(Family::Llama, config, torch::kFloat, /*dropout=*/0.1);
  model->train();
  auto ids = test::random_ids(/*rows=*/2, /*length=*/16, /*vocab=*/37, /*seed=*/41);  // S = 4

  // Without the weight-cast cache both runs sum each weight's per-segment
  // gradients in fp32 (with it, the plain run sums them in bf16 first).
  const auto bf16 = test::autocast_to(torch::kCPU, torch::kBFloat16, /*cache=*/false);
  auto fp32 = test::autocast_step(*model, ids, /*mask=*/{}, /*checkpoint=*/false, std::nullopt, /*seed=*/5);
  auto plain = test::autocast_step(*model, ids, /*mask=*/{}, /*checkpoint=*/false, bf16, /*seed=*/5);
  auto checkpointed = test::autocast_step(*model, ids, /*mask=*/{}, /*checkpoint=*/true, bf16, /*seed=*/5);
  // bf16 really is on: its loss is not the fp32 one (8 mantissa bits).
  REQUIRE(plain.loss != Approx(fp32.loss).epsilon(1e-5));
  CHECK(plain.loss == Approx(fp32.loss).epsilon(5e-2));
  CHECK(checkpointed.loss == Approx(plain.loss).epsilon(1e-6));
  REQUIRE(checkpointed.grads.size() == plain.grads.size());
  double bf16_vs_fp32 = 0;
  for (const auto& [name, grad] : plain.grads) {
    INFO(name);
    // A recomputation in fp32 would be as far from these as fp32 is.
    CHECK(relative_difference(checkpointed.grads.at(name), grad) < 1e-5);
    bf16_vs_fp32 = std::max(bf16_vs_fp32, relative_difference(grad, fp32.grads.at(name)));
  }
  CHECK(bf16_vs_fp32 > 1e-3);
  CHECK_FALSE(current_autocast_state().cpu_enabled);  // nothing leaked out of the backward
  CHECK(current_autocast_state().cache_enabled);
}

}  // namespace
}  // namespace hmt
