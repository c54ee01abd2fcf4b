// A broken rank must end the whole job, with a message, within seconds:
// these cases start `mpirun -np 2` on the hidden probe cases below and check
// its exit status, its output and that it did not wait for the stuck rank.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <string>
#include <sys/wait.h>
#include <thread>

#include "core/error.h"
#include "tests/trainer/dist/dist_fixtures.h"

namespace hmt::dist {
namespace {

// The probes sleep this long on rank 1; a job that lasts as long was not
// brought down by the other rank.
constexpr int kStuckSeconds = 60;

std::unique_ptr<Communicator> probe_communicator(double timeout) {
  DistConfig config;
  config.timeout = timeout;
  return make_communicator(config, torch::Device(torch::kCPU));
}

TEST_CASE("dist probe: rank 1 sleeps through an all-reduce", "[.mpi_probe]") {
  auto comm = probe_communicator(/*timeout=*/1.0);
  HMT_REQUIRE_TWO_RANKS(*comm);
  if (comm->rank() == 1) std::this_thread::sleep_for(std::chrono::seconds(kStuckSeconds));
  auto tensor = torch::ones({4});
  comm->all_reduce_sum_(tensor);
}

TEST_CASE("dist probe: rank 1 fails while rank 0 waits", "[.mpi_probe]") {
  // Long enough that only the abort, not the watchdog, can end the job in time.
  auto comm = probe_communicator(/*timeout=*/kStuckSeconds);
  HMT_REQUIRE_TWO_RANKS(*comm);
  run_or_abort(*comm, [&] {
    if (comm->rank() == 1) fail("injected failure on rank {}", comm->rank());
    comm->barrier();
    return 0;
  });
}

struct JobResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr of every rank and of mpirun
  double seconds = 0;
};

JobResult run_probe(const std::string& test_name) {
  std::string command = std::string(HMT_MPIEXEC) + " --allow-run-as-root --oversubscribe -np 2 " + HMT_BINARY_DIR +
                        "/hmt_tests '" + test_name + "' --use-colour no 2>&1 < /dev/null";
  auto start = std::chrono::steady_clock::now();
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  JobResult result;
  std::array<char, 4096> chunk;
  while (size_t n = std::fread(chunk.data(), 1, chunk.size(), pipe)) result.output.append(chunk.data(), n);
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

bool nested_in_mpi() {
  if (!launched_by_mpi()) return false;
  WARN("skipped: starts mpirun itself, so it runs outside mpirun");
  return true;
}

TEST_CASE("dist: a collective past dist.timeout aborts the job naming the rank and the operation", "[dist][mpi_job]") {
  if (nested_in_mpi()) return;
  auto job = run_probe("dist probe: rank 1 sleeps through an all-reduce");
  INFO(job.output);
  CHECK(job.exit_code != 0);
  CHECK_THAT(job.output, Catch::Contains("error: rank 0 of 2: all_reduce_sum_ of Float [4] did not finish within "
                                         "1 s (dist.timeout)"));
  CHECK(job.seconds < kStuckSeconds / 2);
}

TEST_CASE("dist: a rank that fails brings the job down with its message", "[dist][mpi_job]") {
  if (nested_in_mpi()) return;
  auto job = run_probe("dist probe: rank 1 fails while rank 0 waits");
  INFO(job.output);
  CHECK(job.exit_code != 0);
  CHECK_THAT(job.output, Catch::Contains("error: rank 1 of 2: injected failure on rank 1"));
  CHECK(job.seconds < kStuckSeconds / 2);
}

}  // namespace
}  // namespace hmt::dist
