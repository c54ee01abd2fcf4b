// The recurrence on a CUDA device (docs/hmt.md sections 3-4): fp32 equals the
// CPU, checkpointing replays the CUDA generator's dropout masks, and a bf16
// autocast step stays close to fp32 and is recomputed in bf16. Each case
// passes with the warning "no CUDA device" where none is visible.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <cmath>

#include "tests/test_paths.h"
#include "tests/model/autocast_step.h"
#include "tests/model/hmt_fixtures.h"
#include "model/autocast.h"
#include "model/segment_runner.h"

namespace hmt {
namespace {

using test::relative_difference;

using test::autocast_step;

std::optional<AutocastState> bf16_on_cuda() { return test::autocast_to(torch::kCUDA, torch::kBFloat16); }

TEST_CASE("cuda: fp32 run_segments on the GPU equals the CPU (loss, segment NLL, every gradient)", "[cuda][hmt]") {
  HMT_REQUIRE_CUDA();
  for (Family family : {Family::Llama, Family::Gpt2, Family::Opt}) {
    for (bool checkpoint : {false, true}) {
      INFO(test::family_label(family) << (checkpoint ? " checkpointed" : ""));
      auto config = test::tiny_hmt_config(/*segment_length=*/4, /*sensory=*/2, /*recall=*/true, /*context=*/3);
      auto cpu = test::tiny_hmt(family, config, torch::kFloat);
      auto gpu = test::tiny_hmt(family, config, torch::kFloat);  // same seed: the same weights
      gpu->to(torch::kCUDA);
      auto ids = test::random_ids(/*rows=*/2, /*length=*/16, /*vocab=*/37, /*seed=*/51);
      auto mask = torch::ones({2, 16}, torch::kLong);
      mask[1].slice(/*dim=*/0, 0, 5).fill_(0);  // left padding: a row with fewer segments
      auto a = autocast_step(*cpu, ids, mask, checkpoint, std::nullopt, /*seed=*/3);
      auto b = autocast_step(*gpu, ids, mask, checkpoint, std::nullopt, /*seed=*/3);
      CHECK(b.loss == Approx(a.loss).epsilon(1e-5));
      REQUIRE(b.segment_nll.size() == a.segment_nll.size());
      for (size_t n = 0; n < a.segment_nll.size(); ++n)
        CHECK(b.segment_nll[n] == Approx(a.segment_nll[n]).epsilon(1e-5));
      REQUIRE(b.grads.size() == a.grads.size());
      for (const auto& [name, grad] : a.grads) {
        INFO(name);
        CHECK(relative_difference(b.grads.at(name), grad) < 1e-4);
      }
    }
  }
}

TEST_CASE("cuda: checkpointing replays the CUDA generator's dropout masks", "[cuda][segment_checkpoint]") {
  HMT_REQUIRE_CUDA();
  auto config = test::tiny_hmt_config(/*segment_length=*/4, /*sensory=*/2, /*recall=*/true, /*context=*/3);
  auto model = test::tiny_hmt(Family::Gpt2, config, torch::kFloat, /*dropout=*/0.1);
  model->to(torch::kCUDA);
  model->train();
  auto ids = test::random_ids(/*rows=*/2, /*length=*/16, /*vocab=*/37, /*seed=*/52);
  auto plain = autocast_step(*model, ids, /*mask=*/{}, /*checkpoint=*/false, std::nullopt, /*seed=*/9);
  auto checkpointed = autocast_step(*model, ids, /*mask=*/{}, /*checkpoint=*/true, std::nullopt, /*seed=*/9);
  auto other = autocast_step(*model, ids, /*mask=*/{}, /*checkpoint=*/false, std::nullopt, /*seed=*/10);
  REQUIRE(other.loss != Approx(plain.loss).epsilon(1e-6));  // dropout is on, and drawn on the GPU
  CHECK(checkpointed.loss == Approx(plain.loss).epsilon(1e-5));
  CHECK(torch::equal(checkpointed.after, plain.after));  // the generator ends where the plain run leaves it
  for (const auto& [name, grad] : plain.grads) {
    INFO(name);
    CHECK(relative_difference(checkpointed.grads.at(name), grad) < 1e-4);
  }
}

TEST_CASE("cuda: a bf16 autocast step is close to fp32, and checkpointing recomputes it in bf16", "[cuda][autocast]") {
  HMT_REQUIRE_CUDA();
  auto config = test::tiny_hmt_config(/*segment_length=*/8, /*sensory=*/2, /*recall=*/true, /*context=*/3);
  auto model = test::tiny_hmt(Family::Llama, config, torch::kFloat);
  model->to(torch::kCUDA);
  model->train();
  auto ids = test::random_ids(/*rows=*/2, /*length=*/32, /*vocab=*/37, /*seed=*/53);
  auto fp32 = autocast_step(*model, ids, /*mask=*/{}, /*checkpoint=*/false, std::nullopt, /*seed=*/1);
  auto bf16 = autocast_step(*model, ids, /*mask=*/{}, /*checkpoint=*/false, bf16_on_cuda(), /*seed=*/1);
  // The autocast cache reuses one bf16 copy of each weight in the plain run;
  // the checkpointed run casts afresh in each recomputation, so the two sum
  // a weight's per-segment gradients in different precisions: compare at
  // bf16's resolution, and against fp32 a looser bound.
  auto bf16_ckpt = autocast_step(*model, ids, /*mask=*/{}, /*checkpoint=*/true, bf16_on_cuda(), /*seed=*/1);
  CHECK(std::isfinite(bf16.loss));
  REQUIRE(bf16.loss != Approx(fp32.loss).epsilon(1e-6));  // autocast is really on
  CHECK(bf16.loss == Approx(fp32.loss).epsilon(5e-2));
  CHECK(bf16_ckpt.loss == Approx(bf16.loss).epsilon(1e-6));
  for (const auto& [name, grad] : fp32.grads) {
    INFO(name);
    CHECK(torch::isfinite(bf16.grads.at(name)).all().item<bool>());
    CHECK(relative_difference(bf16_ckpt.grads.at(name), bf16.grads.at(name)) < 2e-2);
    CHECK(relative_difference(bf16.grads.at(name), grad) < 1e-1);
  }
}

}  // namespace
}  // namespace hmt
