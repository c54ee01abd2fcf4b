// Two ranks under `mpirun --allow-run-as-root --oversubscribe -np 2
// build/hmt_tests "[mpi]"` (ctest: dist_mpi_2_ranks). Both ranks run these
// cases in the same order; every expected value is computed locally from
// what each rank is known to hold, not through the communicator.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "core/error.h"
#include "tests/trainer/dist/dist_fixtures.h"
#include "trainer/dist/grad_reducer.h"
#include "trainer/dist/param_sync.h"

namespace hmt::dist {
namespace {

using test::mpi_communicator;

// What rank r holds in the collective tests.
torch::Tensor rank_values(int rank, torch::Dtype dtype) {
  return (torch::arange(12, torch::kDouble).reshape({3, 4}) * (rank + 1) + 0.25 * rank).to(dtype);
}

TEST_CASE("dist mpi: broadcast from either root, any dtype and layout", "[.mpi]") {
  auto comm = mpi_communicator();
  HMT_REQUIRE_TWO_RANKS(*comm);
  CHECK(comm->backend() == "mpi");
  for (int root : {0, 1}) {
    for (auto dtype : {torch::kFloat, torch::kDouble, torch::kLong, torch::kBFloat16}) {
      INFO("root " << root << " dtype " << c10::toString(dtype));
      auto tensor = rank_values(comm->rank(), dtype);
      comm->broadcast_(tensor, root);
      CHECK(torch::equal(tensor, rank_values(root, dtype)));
    }
  }
  // A transposed view is written through, not a copy of it.
  auto base = rank_values(comm->rank(), torch::kFloat);
  auto view = base.t();
  comm->broadcast_(view, /*root=*/1);
  CHECK(torch::equal(base, rank_values(1, torch::kFloat)));
}

TEST_CASE("dist mpi: all-reduce sums and means equal the direct computation", "[.mpi]") {
  auto comm = mpi_communicator();
  HMT_REQUIRE_TWO_RANKS(*comm);
  auto direct = rank_values(0, torch::kDouble) + rank_values(1, torch::kDouble);
  for (auto dtype : {torch::kFloat, torch::kDouble, torch::kLong, torch::kBFloat16}) {
    INFO(c10::toString(dtype));
    auto tensor = rank_values(comm->rank(), dtype);
    comm->all_reduce_sum_(tensor);
    CHECK(torch::equal(tensor, (rank_values(0, dtype).to(torch::kDouble) + rank_values(1, dtype).to(torch::kDouble))
                                   .to(dtype)));
  }
  auto mean = rank_values(comm->rank(), torch::kFloat);
  comm->all_reduce_sum_(mean);
  mean.div_(comm->world());
  CHECK(torch::allclose(mean.to(torch::kDouble), direct / 2, /*rtol=*/1e-7, /*atol=*/0));
  CHECK(comm->all_reduce_sum(0.5 + comm->rank()) == 2.0);

  // Non-blocking: polled to completion, then the same sum.
  auto pending_tensor = rank_values(comm->rank(), torch::kFloat);
  auto pending = comm->start_all_reduce_sum_(pending_tensor, "a test tensor");
  while (!pending->test()) {
  }
  CHECK(torch::equal(pending_tensor, direct.to(torch::kFloat)));
}

TEST_CASE("dist mpi: any() agrees on every rank", "[.mpi]") {
  auto comm = mpi_communicator();
  HMT_REQUIRE_TWO_RANKS(*comm);
  CHECK(comm->any(comm->rank() == 1));  // a SIGTERM on rank 1 only stops rank 0 too
  CHECK(comm->any(comm->rank() == 0));
  CHECK_FALSE(comm->any(false));
  CHECK(comm->any(true));
  comm->barrier();
}

TEST_CASE("dist mpi: parameters are broadcast from rank 0 and a difference is named", "[.mpi]") {
  auto comm = mpi_communicator();
  HMT_REQUIRE_TWO_RANKS(*comm);
  auto model = test::tiny_dist_model(/*seed=*/10 + comm->rank());  // different init per rank
  auto rank0 = test::tiny_dist_model(/*seed=*/10);                 // what rank 0 holds
  auto named = model->named_parameters();
  std::vector<std::pair<std::string, torch::Tensor>> list;
  for (const auto& item : named) list.emplace_back(item.key(), item.value());
  if (comm->rank() == 1) CHECK_THROWS_WITH(check_parameters_equal(*comm, list), Catch::Contains("on rank 1"));
  if (comm->rank() == 0) CHECK_THROWS(check_parameters_equal(*comm, list));

  broadcast_parameters(*comm, model->parameters());
  auto expected = rank0->parameters();
  auto actual = model->parameters();
  for (size_t i = 0; i < actual.size(); ++i) CHECK(torch::equal(actual[i], expected[i]));
  CHECK_NOTHROW(check_parameters_equal(*comm, list));

  // One element of one tensor moves on rank 1: both ranks report that tensor.
  const std::string name = list[3].first;
  if (comm->rank() == 1) {
    torch::NoGradGuard no_grad;
    list[3].second.view(-1)[0].add_(1e-3);
  }
  CHECK_THROWS_WITH(check_parameters_equal(*comm, list),
                    "parameters differ across ranks: " + name + " (" + describe_tensor(list[3].second) +
                        ") on rank 1 is not equal to rank 0's; every rank must start from the same weights "
                        "(broadcast_parameters, the same --init-from/--resume checkpoint)");
}

TEST_CASE("dist mpi: the bucketed reducer gives the mean of both ranks' gradients", "[.mpi]") {
  auto comm = mpi_communicator();
  HMT_REQUIRE_TWO_RANKS(*comm);
  for (bool checkpoint : {true, false}) {
    INFO("checkpoint " << checkpoint);
    auto model = test::tiny_dist_model();
    GradReducer reducer(*comm, model->parameters(), /*bucket_bytes=*/2048);
    // Rank r trains on its own rows; both ranks change shape at step 2.
    const int64_t lengths[] = {12, 12, 20, 20};
    for (int step = 0; step < 4; ++step) {
      INFO("step " << step);
      auto batch = [&](int rank) {
        return test::random_ids(/*rows=*/2, lengths[step], /*vocab=*/37, /*seed=*/100 + 10 * step + rank);
      };
      std::vector<std::vector<torch::Tensor>> per_rank;
      for (int r = 0; r < 2; ++r) {
        test::clear_grads(*model);
        test::backward_batch(*model, batch(r), checkpoint);
        per_rank.push_back(test::grads_of(*model));
      }
      std::vector<torch::Tensor> mean;
      for (size_t i = 0; i < per_rank[0].size(); ++i) mean.push_back((per_rank[0][i] + per_rank[1][i]) / 2);

      test::clear_grads(*model);
      reducer.begin_step();
      test::backward_batch(*model, batch(comm->rank()), checkpoint);
      reducer.finish();
      test::check_grads(*model, mean, /*tolerance=*/1e-6);
      if (step == 1 || step == 3) CHECK(reducer.last_stats().started_in_backward > 0);
      CHECK(reducer.last_stats().redone == (checkpoint && step == 2));
    }
  }
}

TEST_CASE("dist mpi: micro-batches accumulate locally, then the mean is taken once", "[.mpi]") {
  auto comm = mpi_communicator();
  HMT_REQUIRE_TWO_RANKS(*comm);
  auto model = test::tiny_dist_model();
  GradReducer reducer(*comm, model->parameters(), /*bucket_bytes=*/1 << 20);
  auto micro = [](int rank, int k) {
    return test::random_ids(/*rows=*/1, /*length=*/16, /*vocab=*/37, /*seed=*/300 + 2 * rank + k);
  };
  std::vector<torch::Tensor> sum;
  for (int r = 0; r < 2; ++r) {
    test::clear_grads(*model);
    test::backward_batch(*model, micro(r, 0), /*checkpoint=*/true);
    test::backward_batch(*model, micro(r, 1), /*checkpoint=*/true);
    auto grads = test::grads_of(*model);
    if (sum.empty()) sum = grads;
    else
      for (size_t i = 0; i < sum.size(); ++i) sum[i] = sum[i] + grads[i];
  }
  for (auto& g : sum) g = g / 2;
  for (int step = 0; step < 2; ++step) {
    test::clear_grads(*model);
    test::backward_batch(*model, micro(comm->rank(), 0), /*checkpoint=*/true);
    reducer.begin_step();
    test::backward_batch(*model, micro(comm->rank(), 1), /*checkpoint=*/true);
    reducer.finish();
    test::check_grads(*model, sum, /*tolerance=*/1e-6);
  }
}

}  // namespace
}  // namespace hmt::dist
