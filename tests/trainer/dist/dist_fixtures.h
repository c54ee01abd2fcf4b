#pragma once
// Shared pieces of the distributed tests: a two-rank stand-in for one
// process, tiny HMT training steps, and the guard of the mpirun-only cases.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "tests/model/hmt_fixtures.h"
#include "trainer/dist/communicator.h"
#include "model/segment_runner.h"

namespace hmt::test {

// Plays rank 0 of two ranks in one process. The other rank is imagined to
// hold the same scalars and flags (blocking collectives double them) but
// three times our gradients (non-blocking sums, the reducer's buckets, are
// multiplied by four), so a correct reducer leaves twice the local
// gradient. Non-blocking sums finish only after `delay` calls of test(),
// like a real all-reduce still in flight.
class TwoRankStandIn : public dist::Communicator {
 public:
  explicit TwoRankStandIn(int delay = 2) : delay_(delay) {}
  int rank() const override { return 0; }
  int world() const override { return 2; }
  std::string backend() const override { return "stand-in"; }
  void broadcast_(torch::Tensor&, int) override {}
  void all_reduce_sum_(torch::Tensor& tensor) override { tensor.mul_(2); }
  double all_reduce_sum(double value) override { return 2 * value; }
  bool any(bool value) override { return value; }
  void barrier() override {}
  std::unique_ptr<dist::PendingReduce> start_all_reduce_sum_(torch::Tensor& tensor, const std::string&) override {
    ++started;
    return std::make_unique<Pending>(tensor, delay_);
  }
  [[noreturn]] void abort(const std::string& message) override { throw Error("abort: " + message); }

  int started = 0;

 private:
  class Pending : public dist::PendingReduce {
   public:
    Pending(torch::Tensor tensor, int delay) : tensor_(std::move(tensor)), left_(delay) {}
    bool test() override {
      if (!done_ && --left_ <= 0) wait();
      return done_;
    }
    void wait() override {
      if (done_) return;
      tensor_.mul_(4);
      done_ = true;
    }

   private:
    torch::Tensor tensor_;
    int left_;
    bool done_ = false;
  };
  int delay_;
};

// The communicator of the [mpi] cases (MPI under mpirun, else single).
inline std::unique_ptr<dist::Communicator> mpi_communicator() {
  DistConfig config;
  config.timeout = 60;  // a failed REQUIRE on one rank aborts the job instead of hanging it
  return dist::make_communicator(config, torch::Device(torch::kCPU));
}

inline std::shared_ptr<HmtModel> tiny_dist_model(uint64_t seed = 7) {
  auto config = tiny_hmt_config(/*segment_length=*/4, /*sensory=*/2, /*recall=*/true, /*context=*/3);
  return tiny_hmt(Family::Llama, config, torch::kFloat, /*dropout=*/0.0, seed);
}

// One forward and backward of a batch; gradients accumulate into .grad.
inline double backward_batch(HmtModel& model, const torch::Tensor& ids, bool checkpoint) {
  RunnerOptions options;
  options.checkpoint = checkpoint;
  auto run = run_segments(model, ids, /*mask=*/{}, /*score_mask=*/{}, options);
  run.loss.backward();
  return run.loss.item<double>();
}

inline void clear_grads(HmtModel& model) {
  for (auto& p : model.parameters()) p.mutable_grad() = torch::Tensor();
}

// Copies of the gradients, undefined where a parameter has none.
inline std::vector<torch::Tensor> grads_of(HmtModel& model) {
  std::vector<torch::Tensor> grads;
  for (const auto& p : model.parameters()) grads.push_back(p.grad().defined() ? p.grad().clone() : torch::Tensor());
  return grads;
}

// Every parameter's gradient against `expected` (undefined must match).
inline void check_grads(HmtModel& model, const std::vector<torch::Tensor>& expected, double tolerance) {
  auto params = model.named_parameters();
  REQUIRE(params.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO(params[i].key());
    const auto& grad = params[i].value().grad();
    REQUIRE(grad.defined() == expected[i].defined());
    if (grad.defined()) CHECK(relative_difference(grad, expected[i]) <= tolerance);
  }
}

}  // namespace hmt::test

// The [mpi] cases run under `mpirun -np 2` (ctest entry dist_mpi_2_ranks);
// started otherwise they pass with a warning saying so.
#define HMT_REQUIRE_TWO_RANKS(comm)                                                                     \
  do {                                                                                                  \
    if (!::hmt::dist::launched_by_mpi() || (comm).world() != 2) {                                       \
      WARN("skipped: not launched under mpirun -np 2 (run: mpirun --allow-run-as-root --oversubscribe " \
           "-np 2 build/hmt_tests \"[mpi]\")");                                                         \
      return;                                                                                           \
    }                                                                                                   \
  } while (0)
