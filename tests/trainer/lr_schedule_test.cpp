// Learning-rate schedules against direct formulas and against LibTorch's own
// StepLR (the scheduler the official code steps once per optimizer step).
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <cmath>

#include "trainer/lr_schedule.h"

namespace {

hmt::StageConfig stage(const char* name, int64_t steps, double lr, int64_t warmup) {
  hmt::StageConfig s;
  s.steps = steps;
  s.lr = lr;
  s.schedule.name = name;
  s.schedule.warmup_steps = warmup;
  return s;
}

}  // namespace

TEST_CASE("lr schedule: step decay equals torch StepLR stepped once per step (as in Python)", "[trainer][schedule]") {
  auto s = stage("step", /*steps=*/450, /*lr=*/2e-4, /*warmup=*/0);
  s.schedule.step_size = 100;
  s.schedule.gamma = 0.7;
  auto p = torch::zeros({1}, torch::requires_grad());
  torch::optim::SGD sgd({p}, torch::optim::SGDOptions(2e-4));
  torch::optim::StepLR peer(sgd, /*step_size=*/100, /*gamma=*/0.7);
  // Python's StepLR steps once inside its constructor (the official code's
  // schedule); LibTorch's does not, so that first step is taken here.
  peer.step();
  for (int64_t t = 0; t < 450; ++t) {
    INFO("step " << t);
    CHECK(hmt::learning_rate(s, t) == Approx(sgd.param_groups()[0].options().get_lr()).epsilon(1e-12));
    peer.step();
  }
  CHECK(hmt::learning_rate(s, 99) == Approx(2e-4));
  CHECK(hmt::learning_rate(s, 100) == Approx(2e-4 * 0.7));
  CHECK(hmt::learning_rate(s, 449) == Approx(2e-4 * 0.7 * 0.7 * 0.7 * 0.7));
}

TEST_CASE("lr schedule: constant and cosine with warm-up follow their formulas", "[trainer][schedule]") {
  auto c = stage("constant", 50, 1e-3, /*warmup=*/10);
  CHECK(hmt::learning_rate(c, 0) == 0.0);
  CHECK(hmt::learning_rate(c, 5) == Approx(0.5e-3));
  CHECK(hmt::learning_rate(c, 10) == Approx(1e-3));
  CHECK(hmt::learning_rate(c, 49) == Approx(1e-3));

  auto k = stage("cosine", /*steps=*/110, /*lr=*/1e-3, /*warmup=*/10);
  k.schedule.min_lr = 1e-4;
  CHECK(hmt::learning_rate(k, 3) == Approx(0.3e-3));
  CHECK(hmt::learning_rate(k, 10) == Approx(1e-3));
  CHECK(hmt::learning_rate(k, 60) == Approx(0.55e-3));  // halfway: the mean of peak and floor
  for (int64_t t : {10, 27, 64, 109}) {
    const double progress = (t - 10) / 100.0;
    CHECK(hmt::learning_rate(k, t) == Approx(1e-4 + 0.9e-3 * 0.5 * (1 + std::cos(M_PI * progress))));
  }
  CHECK(hmt::learning_rate(k, 109) > 1e-4);

  auto w = stage("step", 300, 1e-3, /*warmup=*/4);
  w.schedule.step_size = 2;
  w.schedule.gamma = 0.5;
  CHECK(hmt::learning_rate(w, 3) == Approx(1e-3 * 0.75 * 0.5));  // warm-up and decay multiply
}
