#pragma once
// `hmt train`: the stages of train.stages in order (docs/hmt.md section 5), each
// a loop of optimizer steps over the data loader's batches, with gradient
// accumulation, data-parallel gradient averaging, clipping, the stage's
// learning-rate schedule, validation, metrics, checkpoints and exact resume.
//
// Exactness: every step starts by seeding torch's generator from
// (runtime.seed, stage, step, rank), so the random draws of a step (dropout,
// LoRA dropout, their replay in checkpointed backward) depend only on where
// the run is, not on its history; the loader's position, the optimizer
// moments and the counters are in the checkpoint. A run resumed from a
// checkpoint therefore computes the same steps as one that never stopped
// (on CPU with the same thread count: bit for bit).
//
// Data parallel: rank r's micro-batch is the r-th block of the global batch;
// each rank backpropagates the SUM of its NLL over the tokens of the loss
// scope, the reducer averages gradients over ranks, and the result is scaled
// by world / (scored tokens of the step on all ranks), which makes it the
// gradient of the global mean NLL whatever the ranks' token counts.
#include <cstdint>
#include <functional>
#include <string>

#include "core/experiment_config.h"

namespace hmt {

namespace dist {
class Communicator;
}

struct TrainOptions {
  bool resume = false;    // --resume: continue from the newest valid checkpoint (required)
  std::string init_from;  // --init-from DIR: weights only, from a checkpoint or an HF model directory
  bool terminal = false;  // draw a progress bar (stderr is a terminal)
  // Test seam: multiplies the loss of each micro-batch of global step g
  // (0-based) on this rank; NaN injects a non-finite step.
  std::function<double(int64_t global_step)> loss_factor;
};

struct TrainResult {
  int exit_code = 0;            // 0 finished; 128 + signal when stopped by one; 1 after M non-finite steps
  std::string stop_reason;      // "", "signal" or "non-finite"
  std::string last_checkpoint;  // the newest checkpoint written (rank 0) or ""
  int64_t global_step = 0;      // steps completed over all stages
};

// Runs every remaining stage. Without --resume and --init-from, a run
// directory that already holds a valid checkpoint is resumed from it.
TrainResult train(const ExperimentConfig& config, const TrainOptions& options, dist::Communicator& comm);

}  // namespace hmt
