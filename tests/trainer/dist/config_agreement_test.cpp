// Ranks agree before they train: the first differing key of two resolved
// experiments, named with both values; under mpirun, a rank with another lr
// stops both ranks with that message.
#include <catch2/catch.hpp>

#include "core/config.h"
#include "core/error.h"
#include "tests/trainer/dist/dist_fixtures.h"
#include "tests/trainer/trainer_fixtures.h"
#include "trainer/checkpoint.h"
#include "trainer/dist/config_agreement.h"

namespace hmt::dist {
namespace {

std::string flat(const ExperimentConfig& config) { return flatten_yaml(to_yaml(computed_part(config))); }

TEST_CASE("config agreement: the first differing key and both values", "[dist][agreement]") {
  CHECK(flatten_yaml("a:\n  b: 1\n  c: [x, y]\nd: null\n") == "a.b: 1\na.c: [x, y]\nd: null\n");
  auto base = test::tiny_experiment("runs/a");
  CHECK(first_difference(flat(base), flat(base), /*rank=*/1).empty());
  // Rank-local keys may differ.
  auto local = base;
  local.runtime.run_dir = "runs/elsewhere";
  local.runtime.threads = 7;
  CHECK(first_difference(flat(base), flat(local), /*rank=*/1).empty());
  auto other = base;
  other.train.stage1.lr = 2e-4;
  other.runtime.seed = 99;  // later in the file: the first difference is named
  CHECK(first_difference(flat(base), flat(other), /*rank=*/3) == "runtime.seed: rank 0 has 1234, rank 3 has 99");
  other.runtime.seed = base.runtime.seed;
  CHECK(first_difference(flat(base), flat(other), /*rank=*/1) ==
        "train.stage1.lr: rank 0 has 0.0001, rank 1 has 0.0002");
  CHECK(first_difference("a: 1\n", "a: 1\nb: 2\n", 1) == "rank 0 has `(nothing)` where rank 1 has `b: 2`");
}

using test::mpi_communicator;

TEST_CASE("dist mpi: ranks whose experiments differ stop, every rank naming the key", "[.mpi]") {
  auto comm = mpi_communicator();
  HMT_REQUIRE_TWO_RANKS(*comm);
  auto config = test::tiny_experiment("runs/a");
  CHECK_NOTHROW(check_ranks_agree(*comm, flat(config)));
  if (comm->rank() == 1) config.train.stage1.lr = 2e-4;
  CHECK_THROWS_WITH(check_ranks_agree(*comm, flat(config)),
                    Catch::Contains("the ranks' experiments differ") &&
                        Catch::Contains("train.stage1.lr: rank 0 has 0.0001, rank 1 has 0.0002"));
}

}  // namespace
}  // namespace hmt::dist
