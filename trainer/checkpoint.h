#pragma once
// The one pair of functions that turns a run's state into files and back:
// resume, stage hand-off, --init-from, `hmt export` and `hmt eval` all go
// through it. A checkpoint is a directory RUN_DIR/checkpoints/<stage>-step<N>:
//   config.json, model.safetensors  the backbone as an HF model directory
//                                    (base weights; LoRA adapters apart)
//   lora.safetensors                 the adapters, when attached
//   hmt.safetensors                  every hmt.* tensor (not for a backbone stage)
//   optimizer.safetensors            AdamW moments and steps by parameter name
//   config.yaml                      the resolved experiment
//   trainer_state.json               stage, step, loader and RNG state,
//                                    config hash, counters, file sizes
// It is written into a hidden staging directory (every file fsynced) that is
// renamed into place only when complete, so a crash leaves either the whole
// checkpoint or none; trainer_state.json lists every file with its size, so
// damage done later (a truncated file, a broken json) is detected on load.
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/experiment_config.h"
#include "model/hmt_model.h"
#include "trainer/optimizer.h"

namespace hmt {

struct TrainerState {
  std::string stage;              // a name of train.stages
  int64_t stage_index = 0;        // its position there
  int64_t step = 0;               // optimizer steps completed in this stage
  bool stage_complete = false;    // the stage's last step is done: resume starts the next one
  int64_t global_step = 0;        // steps completed over all stages
  nlohmann::ordered_json loader;  // the training loader's state (epoch, step)
  std::string rng_cpu;            // torch's CPU generator state after the step, hex
  int64_t nonfinite_in_row = 0, nonfinite_total = 0;
  int64_t metrics_bytes = 0;  // size of metrics.jsonl when written
  int64_t world = 1;          // ranks of the run
  std::string config_hash;    // resume_hash of the experiment
  std::string stop_reason;    // "", "signal" or "non-finite"
  // The stage of the --init-from checkpoint ("" for an HF directory or none):
  // which hmt.* tensors came trained (docs/hmt.md section 5, fresh draws).
  std::string init_stage;

  nlohmann::ordered_json to_json() const;
  // Errors name `source` and the key.
  static TrainerState from_json(const nlohmann::json& json, const std::string& source);
};

// The hash a resumed run must match: config_hash of the experiment without
// the keys that may change between calls (runtime.run_dir, threads,
// log_level, and the dist: section).
std::string resume_hash(const ExperimentConfig& config);
// The experiment with those keys at their defaults: what every rank must agree on.
ExperimentConfig computed_part(const ExperimentConfig& config);

// "stage1-step000200".
std::string checkpoint_name(const std::string& stage, int64_t step);

// Writes the checkpoint of `state` under RUN_DIR/checkpoints and returns its
// directory; an existing one of that name is replaced. `optimizer` null:
// none is saved. hmt.safetensors is written unless `with_hmt` is false.
std::string save_checkpoint(const std::string& run_dir, HmtModel& model, const Optimizer* optimizer,
                            const ExperimentConfig& config, TrainerState state, bool with_hmt);

// Checkpoint directories of a run, oldest first (by stage order in the run's
// config.yaml, then step). Names that do not parse are skipped.
std::vector<std::string> list_checkpoints(const std::string& run_dir);
// Deletes all but the newest `keep`.
void prune_checkpoints(const std::string& run_dir, int64_t keep);

// "" when `dir` is a complete checkpoint, else what is wrong with it.
std::string checkpoint_problem(const std::string& dir);
TrainerState read_trainer_state(const std::string& dir);

// RUN_DIR (its newest valid checkpoint) or one checkpoint directory; the model in eval mode, recall enabled as in that stage.
struct LoadedRun {
  ExperimentConfig config;
  std::shared_ptr<HmtModel> model;
  std::string checkpoint_dir;
  int64_t stage = 0;  // index into config.train.stages
};
LoadedRun load_run(const std::string& run_dir_or_checkpoint);
// "" when none; a corrupt newest one is reported (stderr) and skipped.
std::string newest_valid_checkpoint(const std::string& run_dir);

// Copies weights into `model`: the backbone from DIR's config.json +
// model.safetensors (a checkpoint or any HF model directory), LoRA adapters
// from lora.safetensors when the model has adapters and the file exists,
// hmt.* from hmt.safetensors when it exists. Returns what was loaded
// ("backbone", "lora", "hmt"). Errors name the file and the tensor.
std::vector<std::string> load_weights(const std::string& dir, HmtModel& model);
// The optimizer state of a checkpoint; errors when it has none.
void load_optimizer_state(const std::string& dir, Optimizer& optimizer);

// torch's CPU generator state <-> hex text.
std::string cpu_rng_hex();
void restore_cpu_rng(const std::string& hex, const std::string& source);

}  // namespace hmt
