// The NCCL communicator with one rank on one GPU (one GPU cannot host two
// NCCL ranks): it initialises over an MPI singleton, its collectives give
// the one-rank sum (the input itself) for contiguous, strided, bf16 and large
// tensors, blocking and not, and it is destroyed cleanly: a second one works
// in the same process afterwards. Needs a CUDA LibTorch built with NCCL and a
// GPU; elsewhere it passes with a warning.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <cstdio>
#include <memory>

#include "tests/test_paths.h"
#include "trainer/dist/communicator.h"
#if defined(HMT_WITH_NCCL) && defined(HMT_TORCH_CUDA)
#include <nccl.h>

#include "trainer/dist/mpi_communicator.h"
#include "trainer/dist/nccl_communicator.h"
#endif

namespace hmt::dist {
namespace {

#if defined(HMT_WITH_NCCL) && defined(HMT_TORCH_CUDA)
std::unique_ptr<Communicator> one_rank_nccl() {
  return make_nccl_communicator(std::make_unique<MpiCommunicator>(/*timeout_seconds=*/60),
                                torch::Device(torch::kCUDA, 0), /*timeout_seconds=*/60);
}

// Sums with one rank leave every value as it was; a copy made first and the
// result compared bitwise (a lost or doubled chunk, or a write past the
// view, shows).
void check_all_reduce(Communicator& comm, torch::Tensor tensor) {
  INFO(describe_tensor(tensor) << (tensor.is_contiguous() ? "" : " (strided)"));
  auto expected = tensor.clone();
  comm.all_reduce_sum_(tensor);
  CHECK(torch::equal(tensor, expected));
}
#endif

TEST_CASE("nccl: one rank initialises, all-reduces, broadcasts and is torn down cleanly", "[cuda][nccl][dist]") {
#if !defined(HMT_WITH_NCCL) || !defined(HMT_TORCH_CUDA)
  WARN("skipped: no CUDA device: this build has no NCCL communicator on a CUDA LibTorch");
#else
  HMT_REQUIRE_CUDA();
  if (launched_by_mpi()) {
    WARN("skipped: this case makes its own MPI singleton and runs without mpirun");
    return;
  }
  int version = 0;
  ncclGetVersion(&version);
  // scripts/device/gpu_checks.sh reads this line into its report.
  std::printf("nccl: version code %d\n", version);
  const auto cuda = torch::TensorOptions().device(torch::kCUDA, 0);
  for (int round = 0; round < 2; ++round) {  // the second communicator follows a destroyed one
    INFO("communicator " << round);
    auto comm = one_rank_nccl();
    CHECK(comm->backend() == "nccl");
    CHECK(comm->rank() == 0);
    CHECK(comm->world() == 1);
    torch::manual_seed(round);
    check_all_reduce(*comm, torch::randn({1000}, cuda));
    check_all_reduce(*comm, torch::randn({64, 48}, cuda).t());  // strided: reduced in a copy, written back
    check_all_reduce(*comm, torch::randn({4096}, cuda.dtype(torch::kBFloat16)));
    check_all_reduce(*comm, torch::randint(1000, {1 << 24}, cuda.dtype(torch::kLong)));  // 128 MiB, many chunks

    auto bucket = torch::randn({1 << 20}, cuda);
    auto expected = bucket.clone();
    auto pending = comm->start_all_reduce_sum_(bucket, "a test bucket (4.0 MiB)");
    pending->wait();
    CHECK(pending->test());
    CHECK(torch::equal(bucket, expected));

    auto weights = torch::randn({8, 8}, cuda);
    auto before = weights.clone();
    comm->broadcast_(weights, /*root=*/0);
    CHECK(torch::equal(weights, before));
    CHECK_THROWS_WITH(comm->broadcast_(weights, /*root=*/1), Catch::Contains("root 1 is not a rank of this job"));
    auto host = torch::arange(4, torch::kFloat);  // CPU tensors go over MPI
    comm->all_reduce_sum_(host);
    CHECK(torch::equal(host, torch::arange(4, torch::kFloat)));
    CHECK(comm->all_reduce_sum(2.5) == 2.5);
    comm.reset();  // ncclCommDestroy
  }
#endif
}

}  // namespace
}  // namespace hmt::dist
