// Segment-level checkpointing and truncation (docs/hmt.md section 4): the
// checkpointed run must reproduce loss and every gradient with dropout on,
// leave the generator where the plain run leaves it, and truncation K must
// detach exactly the memory embeddings older than K segments. The first case
// runs on HMT_TEST_DEVICE (tests/test_paths.h), so on a GPU too.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <map>
#include <string>

#include "tests/test_paths.h"
#include "tests/model/hmt_fixtures.h"
#include "tests/model/naive_hmt.h"
#include "model/segment_runner.h"

namespace hmt {
namespace {

using test::relative_difference;

struct Outcome {
  double loss = 0;
  std::map<std::string, torch::Tensor> grads;
  torch::Tensor after;  // the next draws of the CPU and the model device's generators after backward
};

Outcome train_step(HmtModel& model, const torch::Tensor& ids, const torch::Tensor& mask, RunnerOptions options,
                   uint64_t seed) {
  model.zero_grad();
  for (auto& p : model.parameters()) p.mutable_grad() = torch::Tensor();
  torch::manual_seed(seed);
  auto run = run_segments(model, ids, mask, {}, options);
  run.loss.backward();
  Outcome out;
  out.loss = run.loss.item<double>();
  for (const auto& item : model.named_parameters())
    if (item.value().grad().defined()) out.grads[item.key()] = item.value().grad().to(torch::kCPU).clone();
  const auto device = model.memory_init().device();
  out.after = torch::cat({torch::rand({4}), torch::rand({4}, torch::TensorOptions().device(device)).to(torch::kCPU)});
  return out;
}

TEST_CASE("segment checkpoint: loss and every gradient equal the plain run, dropout replayed",
          "[hmt][segment_checkpoint]") {
  for (Family family : {Family::Llama, Family::Gpt2, Family::Opt}) {
    for (int64_t truncate : {0, 2}) {
      INFO(test::family_label(family) << " K = " << truncate);
      auto config = test::tiny_hmt_config(/*segment_length=*/4, /*sensory=*/2, /*recall=*/true, /*context=*/3);
      auto model = test::tiny_hmt(family, config, torch::kFloat, /*dropout=*/0.1);
      model->to(test::test_device());
      model->train();
      auto ids = test::random_ids(/*rows=*/2, /*length=*/16, /*vocab=*/37, /*seed=*/31);  // S = 4
      auto mask = torch::ones({2, 16}, torch::kLong);
      mask[1].slice(0, 0, 3).fill_(0);
      RunnerOptions plain;
      plain.truncate = truncate;
      RunnerOptions checkpointed = plain;
      checkpointed.checkpoint = true;

      auto a = train_step(*model, ids, mask, plain, /*seed=*/100);
      auto b = train_step(*model, ids, mask, checkpointed, /*seed=*/100);
      auto other_masks = train_step(*model, ids, mask, plain, /*seed=*/101);
      REQUIRE(other_masks.loss != Approx(a.loss).epsilon(1e-6));  // dropout is really on

      CHECK(b.loss == Approx(a.loss).epsilon(1e-5));
      CHECK(torch::equal(a.after, b.after));
      REQUIRE(a.grads.size() == model->parameters().size());
      REQUIRE(b.grads.size() == a.grads.size());
      for (const auto& [name, grad] : a.grads) {
        INFO(name);
        CHECK(relative_difference(b.grads.at(name), grad) < 1e-5);
      }
    }
  }
}

TEST_CASE("segment checkpoint: truncation K detaches memory embeddings older than K segments",
          "[hmt][segment_checkpoint]") {
  auto config = test::tiny_hmt_config(/*segment_length=*/3, /*sensory=*/1, /*recall=*/true, /*context=*/3);
  auto model = test::tiny_hmt(Family::Llama, config, torch::kDouble);
  auto ids = test::random_ids(/*rows=*/1, /*length=*/12, /*vocab=*/37, /*seed=*/32);  // S = 4
  auto grads_of = [&](int64_t truncate, bool checkpoint) {
    RunnerOptions options;
    options.truncate = truncate;
    options.checkpoint = checkpoint;
    return train_step(*model, ids, {}, options, /*seed=*/1);
  };
  auto full = grads_of(0, false);
  // n - i <= S - 1 = 3, so K >= 3 never detaches.
  for (int64_t k : {3, 4, 9}) {
    auto same = grads_of(k, false);
    for (const auto& [name, grad] : full.grads) CHECK(torch::equal(same.grads.at(name), grad));
  }
  for (int64_t k : {1, 2}) {
    for (bool checkpoint : {false, true}) {
      INFO("K = " << k << (checkpoint ? " checkpointed" : ""));
      auto truncated = grads_of(k, checkpoint);
      CHECK(truncated.loss == Approx(full.loss).epsilon(1e-12));  // forward values are unchanged
      CHECK(relative_difference(truncated.grads.at("hmt.memory"), full.grads.at("hmt.memory")) > 1e-6);

      model->zero_grad();
      for (auto& p : model->parameters()) p.mutable_grad() = torch::Tensor();
      auto naive = test::naive_hmt(*model, test::to_vector(ids[0]), k);
      (naive.nll_sum / 11.0).backward();
      for (const auto& [name, grad] : truncated.grads) {
        INFO(name);
        CHECK(relative_difference(grad, test::named(*model, name).grad()) < 1e-10);
      }
    }
  }
}

}  // namespace
}  // namespace hmt
