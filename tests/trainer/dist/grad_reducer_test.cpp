// The bucketed gradient reducer in one process: world 1 is a no-op, and a
// two-rank stand-in (the other rank has three times our gradients, so the
// mean is twice ours) exercises calibration, buckets started during a
// checkpointed backward, a changed batch shape, accumulation and tensors
// without gradient. The real two-rank run is in mpi_test.cpp.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <set>

#include "tests/trainer/dist/dist_fixtures.h"
#include "trainer/dist/grad_reducer.h"

namespace hmt::dist {
namespace {

using test::backward_batch, test::check_grads, test::clear_grads, test::grads_of;

std::vector<torch::Tensor> doubled(const std::vector<torch::Tensor>& grads) {
  std::vector<torch::Tensor> out;
  for (const auto& g : grads) out.push_back(g.defined() ? g * 2 : g);
  return out;
}

TEST_CASE("grad reducer: with one rank gradients stay exactly as backward left them", "[dist][grad_reducer]") {
  auto model = test::tiny_dist_model();
  auto ids = test::random_ids(/*rows=*/2, /*length=*/12, /*vocab=*/37, /*seed=*/5);
  backward_batch(*model, ids, /*checkpoint=*/true);
  auto expected = grads_of(*model);
  clear_grads(*model);

  auto comm = make_single_process_communicator();
  GradReducer reducer(*comm, model->parameters(), /*bucket_bytes=*/1024);
  reducer.begin_step();
  backward_batch(*model, ids, /*checkpoint=*/true);
  reducer.finish();
  check_grads(*model, expected, /*tolerance=*/0.0);
  CHECK(reducer.last_reduce_seconds() == 0.0);
}

TEST_CASE("grad reducer: buckets hold every parameter once, within the bucket size unless alone",
          "[dist][grad_reducer]") {
  auto model = test::tiny_dist_model();
  test::TwoRankStandIn comm;
  const int64_t bucket_bytes = 2048;
  GradReducer reducer(comm, model->parameters(), bucket_bytes);
  auto params = model->parameters();
  std::set<int64_t> seen;
  for (const auto& bucket : reducer.bucket_layout()) {
    int64_t bytes = 0;
    for (int64_t i : bucket) {
      CHECK(seen.insert(i).second);
      bytes += params[static_cast<size_t>(i)].numel() * 4;
    }
    if (bucket.size() > 1) CHECK(bytes <= bucket_bytes);
  }
  CHECK(seen.size() == params.size());
  CHECK(reducer.bucket_count() > 3);
}

TEST_CASE("grad reducer: mean over ranks through calibration, overlap and a changed batch shape",
          "[dist][grad_reducer]") {
  for (bool checkpoint : {true, false}) {
    INFO("checkpoint " << checkpoint);
    auto model = test::tiny_dist_model();
    test::TwoRankStandIn comm;
    GradReducer reducer(comm, model->parameters(), /*bucket_bytes=*/2048);
    // S = 3, 3, 5, 5, 3 segments: the third step has more contributions per
    // parameter than the counts learnt, the fifth fewer.
    const int64_t lengths[] = {12, 12, 20, 20, 12};
    for (int step = 0; step < 5; ++step) {
      INFO("step " << step);
      auto ids = test::random_ids(/*rows=*/2, lengths[step], /*vocab=*/37, /*seed=*/40 + step);
      clear_grads(*model);
      backward_batch(*model, ids, checkpoint);
      auto expected = doubled(grads_of(*model));
      clear_grads(*model);

      reducer.begin_step();
      backward_batch(*model, ids, checkpoint);
      reducer.finish();
      check_grads(*model, expected, /*tolerance=*/0.0);
      const auto& stats = reducer.last_stats();
      CHECK(stats.calibration == (step == 0));
      // Without checkpointing the engine sums all uses of a parameter before its
      // accumulator runs: one contribution per step whatever the shape.
      CHECK(stats.redone == (checkpoint && step == 2));
      if (step == 0) CHECK(stats.started_in_backward == 0);
      // With stable counts the buckets go out during backward, all but the
      // ones whose last gradient is the very last (hmt.memory's).
      if (step == 1 || step == 3) CHECK(stats.started_in_backward >= stats.buckets - 1);
      CHECK(stats.reduce_seconds >= stats.finish_seconds);
    }
  }
}

TEST_CASE("grad reducer: accumulated micro-batches are averaged as a whole", "[dist][grad_reducer]") {
  auto model = test::tiny_dist_model();
  test::TwoRankStandIn comm;
  GradReducer reducer(comm, model->parameters(), /*bucket_bytes=*/4096);
  auto first = test::random_ids(/*rows=*/1, /*length=*/12, /*vocab=*/37, /*seed=*/61);
  auto second = test::random_ids(/*rows=*/2, /*length=*/16, /*vocab=*/37, /*seed=*/62);
  for (int step = 0; step < 2; ++step) {
    clear_grads(*model);
    backward_batch(*model, first, /*checkpoint=*/true);
    backward_batch(*model, second, /*checkpoint=*/true);
    auto expected = doubled(grads_of(*model));
    clear_grads(*model);

    backward_batch(*model, first, /*checkpoint=*/true);  // hooks not armed: local accumulation
    reducer.begin_step();
    backward_batch(*model, second, /*checkpoint=*/true);
    reducer.finish();
    check_grads(*model, expected, /*tolerance=*/1e-6);
  }
}

TEST_CASE("grad reducer: a tensor no rank has a gradient for keeps none", "[dist][grad_reducer]") {
  auto model = test::tiny_dist_model();
  model->set_recall_enabled(false);  // stage 1: summary prompt and recall weights are unused
  test::TwoRankStandIn comm;
  GradReducer reducer(comm, model->parameters(), /*bucket_bytes=*/2048);
  auto ids = test::random_ids(/*rows=*/2, /*length=*/12, /*vocab=*/37, /*seed=*/70);
  for (int step = 0; step < 2; ++step) {
    clear_grads(*model);
    backward_batch(*model, ids, /*checkpoint=*/true);
    auto expected = doubled(grads_of(*model));
    clear_grads(*model);
    reducer.begin_step();
    backward_batch(*model, ids, /*checkpoint=*/true);
    reducer.finish();
    check_grads(*model, expected, /*tolerance=*/0.0);
  }
  CHECK_FALSE(test::named(*model, "hmt.recall.wq.weight").grad().defined());
}

}  // namespace
}  // namespace hmt::dist
