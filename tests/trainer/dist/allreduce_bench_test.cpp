// Not a test: the all-reduce figures of docs/distributed.md, on the demo
// model (configs/demo.yaml). Hidden; run it as
//   mpirun --allow-run-as-root --oversubscribe -np 2 build/hmt_tests "[mpi_bench]"
// Rank 0 prints the table; the checks only guard that what is timed is right.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "core/config.h"
#include "core/runtime.h"
#include "model/hmt_builder.h"
#include "tests/test_paths.h"
#include "tests/trainer/dist/dist_fixtures.h"
#include "trainer/dist/grad_reducer.h"

namespace hmt::dist {
namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

TEST_CASE("dist bench: all-reduce of the demo model's gradients at 2 ranks", "[.mpi_bench]") {
  auto comm = make_communicator(DistConfig{}, torch::Device(torch::kCPU));
  HMT_REQUIRE_TWO_RANKS(*comm);
  int threads = apply_threads(/*configured=*/0);
  auto config = load_experiment((test::source_dir() / "configs" / "demo.yaml").string(), {});
  auto model = build_hmt_model(config);
  int64_t numel = 0;
  for (const auto& p : model->parameters()) numel += p.requires_grad() ? p.numel() : 0;
  const double mib = static_cast<double>(numel) * 4 / (1 << 20);

  // One flat bucket holding every gradient (the default dist.bucket_mb of 25
  // is larger than the whole demo model).
  auto flat = torch::ones({numel});
  std::vector<double> seconds;
  for (int i = 0; i < 23; ++i) {
    comm->barrier();
    auto start = Clock::now();
    comm->all_reduce_sum_(flat);
    if (i >= 3) seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  CHECK(flat[0].item<float>() == 1 << 23);
  double t = median(seconds);
  if (comm->rank() == 0) {
    std::ifstream load("/proc/loadavg");
    std::string one_minute;
    load >> one_minute;
    std::printf("load average (1 min) %s on %u cores\n", one_minute.c_str(), std::thread::hardware_concurrency());
  }
  if (comm->rank() == 0)
    std::printf("all-reduce of one %.2f MiB float32 bucket (%lld values), 2 ranks x %d thread(s): median %.3f ms, "
                "min %.3f ms over %zu runs; bus bandwidth %.2f GB/s\n",
                mib, static_cast<long long>(numel), threads, t * 1e3,
                *std::min_element(seconds.begin(), seconds.end()) * 1e3, seconds.size(),
                static_cast<double>(numel) * 4 / t / 1e9);

  // A training step of the demo model (2 rows x 4 segments of 64, checkpointed):
  // the time in the reducer with and without starting buckets during backward.
  int64_t L = config.hmt.segment_length;
  for (bool overlap : {false, true}) {
    GradReducer reducer(*comm, model->parameters(), /*bucket_bytes=*/1 << 20, overlap);
    std::vector<double> step, reduce, exposed, skew;
    int64_t started = 0;
    for (int i = 0; i < 6; ++i) {
      auto ids = test::random_ids(/*rows=*/2, /*length=*/4 * L, config.model.vocab_size.value(), 500 + i);
      test::clear_grads(*model);
      comm->barrier();
      auto start = Clock::now();
      reducer.begin_step();
      test::backward_batch(*model, ids, /*checkpoint=*/true);
      // Only here: waiting for the slower rank is timed apart, so that
      // finish() shows the all-reduce itself (a trainer sees their sum).
      auto before_barrier = Clock::now();
      comm->barrier();
      double waited = std::chrono::duration<double>(Clock::now() - before_barrier).count();
      reducer.finish();
      if (i == 0) continue;  // calibration
      skew.push_back(waited);
      step.push_back(std::chrono::duration<double>(Clock::now() - start).count());
      reduce.push_back(reducer.last_reduce_seconds());
      exposed.push_back(reducer.last_stats().finish_seconds);
      started = reducer.last_stats().started_in_backward;
    }
    if (comm->rank() == 0)
      std::printf("demo step, 1 MiB buckets (%lld), overlap %s: step %.1f ms, waiting for the other rank %.1f ms, "
                  "in reducer %.1f ms (%.1f%% of the step), of it in finish() %.1f ms; buckets started during "
                  "backward %lld\n",
                  static_cast<long long>(reducer.bucket_count()), overlap ? "on " : "off", median(step) * 1e3,
                  median(skew) * 1e3, median(reduce) * 1e3, 100 * median(reduce) / median(step), median(exposed) * 1e3,
                  static_cast<long long>(started));
    CHECK(started == (overlap ? reducer.bucket_count() : 0));
  }
}

}  // namespace
}  // namespace hmt::dist
