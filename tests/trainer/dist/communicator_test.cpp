// The single-process communicator and the backend choice (no mpirun here).
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "core/error.h"
#include "tests/trainer/dist/dist_fixtures.h"
#include "trainer/dist/communicator.h"

namespace hmt::dist {
namespace {

TEST_CASE("dist: without mpirun there is one rank and every collective is the identity", "[dist]") {
  if (launched_by_mpi()) {
    WARN("skipped: this case checks the single-process path and runs without mpirun");
    return;
  }
  auto comm = make_communicator(DistConfig{}, torch::Device(torch::kCPU));
  CHECK(comm->backend() == "single");
  CHECK(comm->rank() == 0);
  CHECK(comm->world() == 1);
  auto values = torch::arange(6, torch::kFloat).reshape({2, 3});
  auto original = values.clone();
  comm->all_reduce_sum_(values);
  comm->broadcast_(values, /*root=*/0);
  CHECK(torch::equal(values, original));
  CHECK(comm->all_reduce_sum(2.5) == 2.5);
  CHECK(comm->any(true));
  CHECK_FALSE(comm->any(false));
  auto pending = comm->start_all_reduce_sum_(values, "a test tensor");
  CHECK(pending->test());
  CHECK(torch::equal(values, original));
  CHECK_THROWS_WITH(comm->broadcast_(values, /*root=*/1), Catch::Contains("root 1 does not exist"));
}

TEST_CASE("dist: with one rank run_or_abort lets the exception through", "[dist]") {
  auto comm = make_single_process_communicator();
  CHECK(run_or_abort(*comm, [] { return 3; }) == 3);
  CHECK_THROWS_WITH(run_or_abort(*comm, []() -> int { fail("bad shard {}", 4); }), "bad shard 4");
  CHECK_THROWS_WITH(comm->abort("stop"), "stop");
}

TEST_CASE("dist: dist.backend nccl is checked against the build and the device", "[dist]") {
  DistConfig config;
  config.backend = hmt::DistBackend::Nccl;
#ifndef HMT_WITH_NCCL
  CHECK_THROWS_WITH(make_communicator(config, torch::Device(torch::kCPU)),
                    Catch::StartsWith("dist.backend: nccl, but this build has no NCCL communicator; configure with "
                                      "-DHMT_WITH_NCCL=ON"));
#else
  CHECK_THROWS_WITH(make_communicator(config, torch::Device(torch::kCPU)),
                    Catch::StartsWith("dist.backend: nccl needs CUDA tensors, but runtime.device is cpu"));
#endif
}

TEST_CASE("dist: tensors are described by dtype and shape in messages", "[dist]") {
  CHECK(describe_tensor(torch::zeros({4, 2}, torch::kFloat)) == "Float [4, 2]");
  CHECK(describe_tensor(torch::zeros({3}, torch::kBFloat16)) == "BFloat16 [3]");
}

}  // namespace
}  // namespace hmt::dist
