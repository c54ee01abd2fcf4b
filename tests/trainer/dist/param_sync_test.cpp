// Parameter fingerprints and the single-process side of the parameter check
// (the two-rank broadcast and mismatch report are in mpi_test.cpp).
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <cmath>

#include "trainer/dist/communicator.h"
#include "trainer/dist/param_sync.h"

namespace hmt::dist {
namespace {

TEST_CASE("param sync: the fingerprint follows bytes, dtype and shape", "[dist][param_sync]") {
  torch::manual_seed(3);
  auto a = torch::randn({8, 4});
  CHECK(tensor_fingerprint(a) == tensor_fingerprint(a.clone()));
  auto flipped = a.clone();
  // One ulp in one element.
  flipped[5][2] = std::nextafter(flipped[5][2].item<float>(), 1e9f);
  CHECK(tensor_fingerprint(flipped) != tensor_fingerprint(a));
  CHECK(tensor_fingerprint(a.reshape({4, 8})) != tensor_fingerprint(a));
  CHECK(tensor_fingerprint(a.to(torch::kDouble)) != tensor_fingerprint(a));
  // A transposed view has the values of its contiguous copy.
  CHECK(tensor_fingerprint(a.t()) == tensor_fingerprint(a.t().contiguous()));
}

TEST_CASE("param sync: one rank is always equal to itself", "[dist][param_sync]") {
  auto comm = make_single_process_communicator();
  std::vector<torch::Tensor> params = {torch::ones({3}), torch::zeros({2, 2})};
  broadcast_parameters(*comm, params);
  CHECK_NOTHROW(check_parameters_equal(*comm, params));
  CHECK(torch::equal(params[0], torch::ones({3})));
}

}  // namespace
}  // namespace hmt::dist
