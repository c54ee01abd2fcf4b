#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <cstdlib>
#include <thread>

#include "core/runtime.h"

TEST_CASE("threads: explicit count is applied to LibTorch", "[core][runtime]") {
  REQUIRE(hmt::apply_threads(/*configured=*/2) == 2);
  REQUIRE(torch::get_num_threads() == 2);
  REQUIRE(hmt::apply_threads(/*configured=*/1) == 1);
  REQUIRE(torch::get_num_threads() == 1);
}

TEST_CASE("threads: default divides cores by ranks on the node", "[core][runtime]") {
  int cores = static_cast<int>(std::thread::hardware_concurrency());
  ::setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "2", 1);
  REQUIRE(hmt::local_ranks_on_node() == 2);
  REQUIRE(hmt::resolve_threads(0) == std::max(1, cores / 2));
  ::unsetenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  REQUIRE(hmt::resolve_threads(0) == std::max(1, cores / hmt::local_ranks_on_node()));
}
