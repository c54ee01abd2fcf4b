#include "trainer/trainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>

#include "core/config.h"
#include "core/error.h"
#include "core/peak_memory.h"
#include "core/runtime.h"
#include "core/splitmix.h"
#include "data/store/loader.h"
#include "data/tokenizers/tokenizer.h"
#include "model/hmt_builder.h"
#include "model/backbone_runner.h"
#include "trainer/checkpoint.h"
#include "trainer/dist/communicator.h"
#include "trainer/dist/config_agreement.h"
#include "trainer/dist/grad_reducer.h"
#include "trainer/dist/param_sync.h"
#include "trainer/lr_schedule.h"
#include "trainer/metrics.h"
#include "trainer/optimizer.h"
#include "trainer/progress.h"
#include "trainer/run_log.h"
#include "trainer/run_seeds.h"
#include "trainer/run_signals.h"
#include "model/segment_runner.h"
#include "trainer/stage.h"
#include "trainer/validation.h"

namespace hmt {
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

// Scalars of a step that are summed over ranks in one all-reduce.
enum Sum : int64_t { kScopeNll, kScopeTokens, kNll, kTokens, kInputTokens, kNonFinite, kSumCount };

struct StepOutcome {
  double loss = 0;  // global mean NLL over the loss scope
  double grad_norm = 0;
  double input_tokens = 0;
  double scope_tokens = 0;
  bool nonfinite = false;
};

// RUN_DIR/train.log, creating the run directory (rank 0 only).
std::string log_path(const std::string& run_dir) {
  std::error_code ec;
  fs::create_directories(run_dir, ec);
  HMT_CHECK(!ec, "{}: cannot create the run directory: {}", run_dir, ec.message());
  return (fs::path(run_dir) / "train.log").string();
}

class Trainer {
 public:
  Trainer(const ExperimentConfig& config, const TrainOptions& options, dist::Communicator& comm)
      : config_(config), options_(options), comm_(comm), rank0_(comm.rank() == 0), run_dir_(config.runtime.run_dir),
        log_(rank0_ ? log_path(run_dir_) : "", rank0_) {}

  TrainResult run();

 private:
  void start();
  void draw_fresh_hmt(int64_t index, StageKind kind);
  Loader train_loader(const StageConfig& stage, StageKind kind, int64_t step) const;
  LoaderOptions loader_options(const StageConfig& stage, StageKind kind, const std::string& split, bool shuffle) const;
  BatchNll forward(const Batch& batch, StageKind kind) const;
  StepOutcome step(Loader& loader, StageKind kind, Optimizer& optimizer, dist::GradReducer& reducer);
  void write_validation(Loader& valid, StageKind kind, const std::string& stage, int64_t step);
  std::string checkpoint(StageKind kind, const Optimizer* optimizer, const Loader& loader);

  const ExperimentConfig& config_;
  const TrainOptions& options_;
  dist::Communicator& comm_;
  const bool rank0_;
  const std::string run_dir_;
  RunLog log_;
  std::unique_ptr<MetricsLog> metrics_;
  RunSignals signals_;
  std::shared_ptr<HmtModel> model_;
  TrainerState state_;       // where the run is; saved in every checkpoint
  std::string resume_from_;  // the checkpoint resumed from, or ""
  TrainResult result_;
};

void Trainer::start() {
  comm_.barrier();  // rank 0 has created the run directory
  {
    // Before anything is built: another lr or seed on one rank would drift
    // the replicas apart silently, another model would fail in a raw MPI error.
    std::error_code ec;
    const auto bytes = config_.data.path.empty() ? 0 : fs::file_size(config_.data.path, ec);
    dist::check_ranks_agree(comm_, dist::flatten_yaml(to_yaml(computed_part(config_))) +
                                       fmt::format("data.path bytes: {}\n", ec ? 0 : bytes));
  }
  const bool has_checkpoints = !list_checkpoints(run_dir_).empty();
  if (!options_.init_from.empty())
    HMT_CHECK(!has_checkpoints && !options_.resume,
              "--init-from {}: {} already holds checkpoints of a run; resume it with --resume, or choose another "
              "runtime.run_dir",
              options_.init_from, (fs::path(run_dir_) / "checkpoints").string());
  if (options_.resume || has_checkpoints) {
    resume_from_ = newest_valid_checkpoint(run_dir_);
    HMT_CHECK(!resume_from_.empty(), "--resume: {} has no valid checkpoint",
              (fs::path(run_dir_) / "checkpoints").string());
  }
  model_ = build_hmt_model(config_);
  state_.config_hash = resume_hash(config_);
  state_.world = comm_.world();
  int64_t keep_metrics = 0;
  if (!resume_from_.empty()) {
    TrainerState saved = read_trainer_state(resume_from_);
    const std::string source = (fs::path(resume_from_) / "trainer_state.json").string();
    HMT_CHECK(saved.config_hash == state_.config_hash,
              "{}: the run was made with another configuration (config hash {}, now {}); compare {} with this "
              "experiment, or choose another runtime.run_dir",
              source, saved.config_hash, state_.config_hash, (fs::path(resume_from_) / "config.yaml").string());
    HMT_CHECK(saved.world == comm_.world(),
              "{}: the run had {} ranks, this one has {}; the global batch (and so the run) would change", source,
              saved.world, comm_.world());
    load_weights(resume_from_, *model_);
    state_ = saved;
    state_.stop_reason.clear();
    restore_cpu_rng(saved.rng_cpu, source);
    keep_metrics = saved.metrics_bytes;
    log_.info("resuming from {} (stage {}, step {})", resume_from_, saved.stage, saved.step);
  } else if (!options_.init_from.empty()) {
    if (fs::exists(fs::path(options_.init_from) / "trainer_state.json")) {
      const std::string problem = checkpoint_problem(options_.init_from);
      HMT_CHECK(problem.empty(), "--init-from {}: {}", options_.init_from, problem);
    }
    auto loaded = load_weights(options_.init_from, *model_);
    log_.info("initialised from {} ({})", options_.init_from, fmt::join(loaded, ", "));
    if (fs::exists(fs::path(options_.init_from) / "trainer_state.json"))
      state_.init_stage = read_trainer_state(options_.init_from).stage;
  }
  if (rank0_) {
    save_resolved_config(config_, run_dir_);
    metrics_ = std::make_unique<MetricsLog>((fs::path(run_dir_) / "metrics.jsonl").string(), keep_metrics);
  }
}

// The training loader of the curriculum level that holds `step`: its S, and
// for levels after the first a seed of their own (level 0, and a stage
// without curriculum, read what they always read).
Loader Trainer::train_loader(const StageConfig& stage, StageKind kind, int64_t step) const {
  LoaderOptions o = loader_options(stage, kind, config_.data.train_split, config_.data.shuffle);
  o.segments = stage.segments_at(step);
  const int64_t level = stage.level_of(step);
  if (level > 0) o.seed = splitmix64(o.seed ^ static_cast<uint64_t>(level));
  return Loader(o);
}

// docs/hmt.md section 5, as the official code: hmt.memory is drawn when the
// first memory stage starts, from the table the model trains with (after
// model.pretrained, --init-from or a backbone stage), and T, wq, wk when the
// first stage 2 starts, from the table stage 1 left; tensors that came
// trained from an --init-from checkpoint of a memory stage are kept. The
// decision depends only on the stage list and state_.init_stage, and the
// draw on the seed, so a resumed run draws what the uninterrupted one drew.
void Trainer::draw_fresh_hmt(int64_t index, StageKind kind) {
  const auto& stages = config_.train.stages;
  auto before = [&](auto&& pred) {
    for (int64_t i = 0; i < index; ++i)
      if (pred(stages[static_cast<size_t>(i)])) return true;
    return false;
  };
  const std::string& init = state_.init_stage;
  const bool memory_trained = init == to_string(StageKind::Stage1) || init == to_string(StageKind::Stage2);
  const bool recall_trained = init == to_string(StageKind::Stage2);
  std::vector<std::string> drawn;
  if (uses_memory(kind) && !memory_trained && !before(uses_memory)) {
    torch::manual_seed(stage_init_seed(config_.runtime.seed, StageKind::Stage1));
    model_->draw_memory();
    drawn.push_back("hmt.memory");
  }
  if (kind == StageKind::Stage2 && !recall_trained && !before([](StageKind k) { return k == StageKind::Stage2; })) {
    torch::manual_seed(stage_init_seed(config_.runtime.seed, StageKind::Stage2));
    model_->draw_recall();
    drawn.push_back("hmt.summary_prompt, hmt.recall.wq, hmt.recall.wk");
  }
  if (!drawn.empty())
    log_.info("{}: drew {} from the embedding table as it is now", to_string(kind), fmt::join(drawn, ", "));
}

LoaderOptions Trainer::loader_options(const StageConfig& stage, StageKind kind, const std::string& split,
                                      bool shuffle) const {
  LoaderOptions o;
  o.path = config_.data.path;
  o.split = split;
  o.segments = stage.segments;
  o.segment_length = config_.hmt.segment_length;
  o.batch_size = config_.train.batch_size;
  o.seed = stage_data_seed(config_.runtime.seed, kind);
  o.rank = comm_.rank();
  o.world = comm_.world();
  o.shuffle = shuffle;
  o.cross_document = config_.data.cross_document;
  o.interleave_len = config_.data.interleave_len;
  o.dilate_len = config_.data.dilate_len;
  if (!config_.tokenizer.path.empty()) o.tokenizer_fingerprint = tokenizer_fingerprint(config_.tokenizer.path);
  return o;
}

BatchNll Trainer::forward(const Batch& batch, StageKind kind) const {
  if (!uses_memory(kind)) return run_backbone_window(model_->backbone(), batch.ids, batch.mask, batch.score_mask);
  RunnerOptions runner;
  runner.truncate = config_.train.bptt.truncate;
  runner.checkpoint = config_.train.bptt.checkpoint;
  runner.loss_scope = config_.train.loss_scope;
  runner.trailing_label = batch.trailing_label;
  runner.segments = batch.segments;
  runner.segment_length = batch.segment_length;
  return run_segments(*model_, batch.ids, batch.mask, batch.score_mask, runner);
}

StepOutcome Trainer::step(Loader& loader, StageKind kind, Optimizer& optimizer, dist::GradReducer& reducer) {
  const bool last_scope = config_.train.loss_scope == LossScope::Last && uses_memory(kind);
  const double factor = options_.loss_factor ? options_.loss_factor(state_.global_step) : 1.0;
  auto sums = torch::zeros({kSumCount}, torch::kDouble);
  auto s = sums.accessor<double, 1>();
  optimizer.zero_grad();
  for (int64_t micro = 0; micro < config_.train.grad_accum; ++micro) {
    const Batch batch = loader.next();
    BatchNll run = forward(batch, kind);
    const double scope_tokens = static_cast<double>(last_scope ? run.segments.back().tokens : run.tokens);
    // The summed NLL of the scope; the division by the global count comes
    // after the all-reduce (see trainer.h).
    torch::Tensor scope_sum = run.loss * scope_tokens * factor;
    const double value = scope_sum.item<double>();
    s[kScopeNll] += value;
    s[kScopeTokens] += scope_tokens;
    s[kNll] += run.nll_sum.item<double>() * factor;
    s[kTokens] += static_cast<double>(run.tokens);
    s[kInputTokens] += static_cast<double>(batch.mask.defined() ? batch.mask.sum().item<int64_t>() : batch.ids.numel());
    if (!std::isfinite(value)) s[kNonFinite] += 1;
    // Only the last backward of an accumulation overlaps the all-reduce:
    // the earlier ones just add into .grad.
    const bool last_micro = micro + 1 == config_.train.grad_accum;
    if (last_micro) reducer.begin_step();
    scope_sum.backward();
    if (last_micro) reducer.finish();
  }
  comm_.all_reduce_sum_(sums);
  StepOutcome out;
  out.scope_tokens = s[kScopeTokens];
  out.input_tokens = s[kInputTokens];
  out.loss = s[kScopeTokens] > 0 ? s[kScopeNll] / s[kScopeTokens] : NAN;
  out.nonfinite = s[kNonFinite] > 0 || !std::isfinite(out.loss);
  if (s[kScopeTokens] > 0) {
    // Averaged over ranks by the reducer; scaled to the global mean.
    const double scale = static_cast<double>(comm_.world()) / s[kScopeTokens];
    torch::NoGradGuard no_grad;
    for (const auto& t : optimizer.tensors())
      if (t.grad().defined()) t.mutable_grad().mul_(scale);
  }
  const double clip = config_.train.clip_norm > 0 ? config_.train.clip_norm : INFINITY;
  out.grad_norm = torch::nn::utils::clip_grad_norm_(optimizer.tensors(), clip);
  out.nonfinite = out.nonfinite || !std::isfinite(out.grad_norm);
  return out;
}

void Trainer::write_validation(Loader& valid, StageKind kind, const std::string& stage, int64_t step) {
  valid.restore(LoaderState{});
  ValidationTotals totals = validate(*model_, valid.steps_per_epoch(), [&]() -> std::optional<BatchNll> {
    const Batch batch = valid.next();
    if (batch.samples.empty()) return std::nullopt;
    return forward(batch, kind);
  });
  // Every rank ran at least one full batch of the same S, so the vectors agree in length.
  auto sums = torch::tensor(totals.packed(), torch::kDouble);
  comm_.all_reduce_sum_(sums);
  totals.unpack(std::vector<double>(sums.data_ptr<double>(), sums.data_ptr<double>() + sums.numel()));
  auto row = validation_row(totals, stage, step, state_.global_step);
  if (rank0_) {
    metrics_->write(row);
    log_.file_only(fmt::format("{} step {} validation loss {} ppl {}", stage, step, row["valid_loss"].dump(),
                               row["valid_ppl"].dump()));
  }
}

std::string Trainer::checkpoint(StageKind kind, const Optimizer* optimizer, const Loader& loader) {
  state_.loader = loader.state().to_json();
  state_.rng_cpu = cpu_rng_hex();
  std::string path;
  if (rank0_) {
    state_.metrics_bytes = metrics_->bytes();
    path = save_checkpoint(run_dir_, *model_, optimizer, config_, state_, /*with_hmt=*/uses_memory(kind));
    prune_checkpoints(run_dir_, config_.train.checkpoint.keep);
    result_.last_checkpoint = path;
  }
  // No rank runs ahead of (or exits before) a checkpoint it may resume from.
  comm_.barrier();
  return path;
}

TrainResult Trainer::run() {
  apply_threads(static_cast<int>(config_.runtime.threads));
  start();
  HMT_CHECK(!config_.data.path.empty(),
            "data.path: empty; training reads a prepared token file (make one with hmt prepare)");
  const auto& stages = config_.train.stages;
  const bool resumed = !resume_from_.empty();
  const int64_t first_stage = resumed ? state_.stage_index + (state_.stage_complete ? 1 : 0) : 0;
  for (int64_t index = first_stage; index < static_cast<int64_t>(stages.size()); ++index) {
    const StageKind kind = stages[static_cast<size_t>(index)];
    const std::string name = to_string(kind);
    const StageConfig& stage = config_.train.stage(kind);
    const bool mid_stage = resumed && index == state_.stage_index && !state_.stage_complete;
    if (!mid_stage) {
      state_.stage = name;
      state_.stage_index = index;
      state_.step = 0;
      state_.stage_complete = false;
      state_.nonfinite_in_row = 0;
    }
    if (!mid_stage) draw_fresh_hmt(index, kind);
    const int64_t trainable = prepare_stage(*model_, kind, stage.trainable.value_or(config_.model.trainable));
    model_->train();
    Optimizer optimizer(trainable_parameters(*model_), config_.train.optimizer);
    // One training loader per curriculum level: a level reads windows of
    // its own S. A run resumed at a level's first step starts that level's
    // loader fresh, as the uninterrupted run does.
    int64_t level = stage.level_of(state_.step);
    std::optional<Loader> loader;
    loader.emplace(train_loader(stage, kind, state_.step));
    if (mid_stage) {
      if (stage.curriculum.empty() || state_.step != stage.level_start(state_.step))
        loader->restore(LoaderState::from_json(state_.loader, resume_from_ + "/trainer_state.json"));
      load_optimizer_state(resume_from_, optimizer);
    }
    std::optional<Loader> valid;
    if (config_.train.validation.batches != 0 && !config_.data.valid_split.empty()) {
      auto o = loader_options(stage, kind, config_.data.valid_split, /*shuffle=*/false);
      o.keep_remainder = true;
      if (config_.train.validation.segments > 0) o.segments = config_.train.validation.segments;
      if (config_.train.validation.batches > 0) o.spread = config_.train.validation.batches * o.batch_size * o.world;
      valid.emplace(o);
    }
    // Weights are equal on every rank before the first step: broadcast from
    // rank 0 (a no-op in one process) and verified.
    dist::broadcast_parameters(comm_, optimizer.tensors());
    std::vector<std::pair<std::string, torch::Tensor>> named;
    for (const auto& p : optimizer.parameters()) named.emplace_back(p.name, p.tensor);
    dist::check_parameters_equal(comm_, named);
    dist::GradReducer reducer(comm_, optimizer.tensors(), static_cast<int64_t>(config_.dist.bucket_mb * (1 << 20)),
                              config_.dist.overlap);
    log_.info("{}: {} steps from step {}, S = {}, {} trainable scalars, batch {} x {} ranks x {} accumulation", name,
              stage.steps, state_.step,
              loader->is_qa() ? std::string("each QA sample whole (its own length)")
              : stage.curriculum.empty()
                  ? std::to_string(stage.segments)
                  : fmt::format("[{}] by curriculum level (now {})", fmt::join(stage.curriculum, ", "),
                                stage.segments_at(state_.step)),
              trainable, config_.train.batch_size, comm_.world(), config_.train.grad_accum);
    Progress progress(log_, name, state_.step, stage.steps, config_.train.log_every, options_.terminal);

    while (state_.step < stage.steps) {
      if (stage.level_of(state_.step) != level) {
        level = stage.level_of(state_.step);
        loader.emplace(train_loader(stage, kind, state_.step));
        log_.info("{}: curriculum level {} from step {}, S = {}", name, level, state_.step,
                  stage.segments_at(state_.step));
      }
      const auto started = Clock::now();
      torch::manual_seed(step_seed(config_.runtime.seed, index, state_.step, comm_.rank()));
      const double lr = learning_rate(stage, state_.step);
      optimizer.set_lr(lr);
      StepOutcome out = step(*loader, kind, optimizer, reducer);
      if (out.nonfinite) {
        state_.nonfinite_in_row += 1;
        state_.nonfinite_total += 1;
      } else {
        optimizer.step();
        state_.nonfinite_in_row = 0;
      }
      state_.step += 1;
      state_.global_step += 1;
      const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
      const double tokens_per_second = out.input_tokens / seconds;
      if (rank0_) {
        auto number = [](double v) { return std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json(); };
        metrics_->write({{"kind", "train"},
                         {"stage", name},
                         {"step", state_.step},
                         {"global_step", state_.global_step},
                         {"loss", number(out.loss)},
                         {"ppl", number(std::exp(out.loss))},
                         {"lr", lr},
                         {"grad_norm", number(out.grad_norm)},
                         {"tokens", out.scope_tokens},
                         {"tokens_per_s", tokens_per_second},
                         {"step_s", seconds},
                         {"allreduce_s", reducer.last_reduce_seconds()},
                         {"peak_memory_mb", static_cast<double>(resident_memory().peak_bytes) / (1 << 20)},
                         {"skipped", out.nonfinite}});
      }
      progress.update({state_.step, out.loss, lr, tokens_per_second, out.nonfinite});

      const bool stage_end = state_.step == stage.steps;
      const bool stop_signal = comm_.any(signals_.stop_requested());
      const bool stop_nonfinite = state_.nonfinite_in_row >= config_.train.max_nonfinite;
      const int64_t every_valid = config_.train.validation.every;
      if (valid && (stage_end || (every_valid > 0 && state_.step % every_valid == 0)))
        write_validation(*valid, kind, name, state_.step);
      const int64_t every = config_.train.checkpoint.every;
      state_.stage_complete = stage_end;
      if (stop_signal || stop_nonfinite) {
        progress.finish();
        // After non-finite steps the weights are still those of the last good
        // step (skipped steps change nothing), so this is its checkpoint.
        state_.stop_reason = stop_signal ? "signal" : "non-finite";
        checkpoint(kind, &optimizer, *loader);
        result_.stop_reason = state_.stop_reason;
        result_.global_step = state_.global_step;
        if (stop_signal) {
          result_.exit_code = 128 + (signals_.signal_number() ? signals_.signal_number() : SIGTERM);
          log_.info("stopped by a signal after {} step {}; resume with --resume", name, state_.step);
        } else {
          result_.exit_code = 1;
          log_.info("error: {} non-finite steps in a row (train.max_nonfinite); stopped after {} step {} with the "
                    "last good weights in {}",
                    state_.nonfinite_in_row, name, state_.step, result_.last_checkpoint);
        }
        return result_;
      }
      if (stage_end || (every > 0 && state_.step % every == 0)) checkpoint(kind, &optimizer, *loader);
    }
    progress.finish();
    log_.info("{}: done ({} non-finite steps skipped in all)", name, state_.nonfinite_total);
  }
  result_.global_step = state_.global_step;
  return result_;
}

}  // namespace

TrainResult train(const ExperimentConfig& config, const TrainOptions& options, dist::Communicator& comm) {
  Trainer trainer(config, options, comm);
  return trainer.run();
}

}  // namespace hmt
