// Checkpoints: the round trip of weights and state, the newest-valid choice
// with corrupt checkpoints, pruning to K, load_run and --init-from errors.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "core/config.h"
#include "model/backbone.h"
#include "model/hmt_builder.h"
#include "tests/test_paths.h"
#include "tests/trainer/trainer_fixtures.h"
#include "trainer/checkpoint.h"

namespace fs = std::filesystem;

namespace {

hmt::TrainerState state_at(const std::string& stage, int64_t index, int64_t step, const hmt::ExperimentConfig& c) {
  hmt::TrainerState s;
  s.stage = stage;
  s.stage_index = index;
  s.step = step;
  s.global_step = step;
  s.loader = {{"epoch", 0}, {"step", step}};
  s.rng_cpu = hmt::cpu_rng_hex();
  s.config_hash = hmt::resume_hash(c);
  return s;
}

void perturb(hmt::HmtModel& model, double by) {
  torch::NoGradGuard no_grad;
  for (auto& p : model.parameters()) p.add_(by);
}

bool same_weights(hmt::HmtModel& a, hmt::HmtModel& b) {
  auto pb = b.named_parameters();
  for (const auto& item : a.named_parameters()) {
    const auto* other = pb.find(item.key());
    if (!other || !torch::equal(item.value(), *other)) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("checkpoint: weights, optimizer state and trainer state round trip", "[trainer][checkpoint]") {
  auto dir = hmt::test::temp_dir("ckpt_roundtrip");
  auto config = hmt::test::tiny_experiment((dir / "run").string());
  hmt::save_resolved_config(config, config.runtime.run_dir);
  auto model = hmt::build_hmt_model(config);
  perturb(*model, 0.25);
  hmt::Optimizer opt(hmt::trainable_parameters(*model), config.train.optimizer);
  for (auto& p : model->parameters()) p.mutable_grad() = torch::ones_like(p);
  opt.set_lr(1e-3);
  opt.step();
  torch::manual_seed(99);
  auto state = state_at("stage1", 0, 2, config);
  auto path = hmt::save_checkpoint(config.runtime.run_dir, *model, &opt, config, state, /*with_hmt=*/true);
  CHECK(fs::path(path).filename() == "stage1-step000002");
  CHECK(hmt::checkpoint_problem(path).empty());
  for (const char* f : {"config.json", "model.safetensors", "hmt.safetensors", "optimizer.safetensors", "config.yaml",
                        "trainer_state.json"})
    CHECK(fs::exists(fs::path(path) / f));
  // The backbone part is a plain HF directory.
  CHECK(hmt::load_backbone(path)->config().vocab_size == 64);

  auto fresh = hmt::build_hmt_model(config);
  CHECK_FALSE(same_weights(*fresh, *model));
  auto loaded = hmt::load_weights(path, *fresh);
  CHECK(loaded == std::vector<std::string>{"backbone", "hmt"});
  CHECK(same_weights(*fresh, *model));
  hmt::Optimizer opt2(hmt::trainable_parameters(*fresh), config.train.optimizer);
  hmt::load_optimizer_state(path, opt2);
  CHECK(opt2.state().size() == opt.state().size());

  auto read = hmt::read_trainer_state(path);
  CHECK(read.to_json() == state.to_json());
  torch::manual_seed(1);
  hmt::restore_cpu_rng(read.rng_cpu, "test");
  auto after = torch::rand({4});
  torch::manual_seed(99);
  CHECK(torch::equal(after, torch::rand({4})));
}

TEST_CASE("checkpoint: the newest valid one is chosen, corrupt ones are skipped, K are kept", "[trainer][checkpoint]") {
  auto dir = hmt::test::temp_dir("ckpt_newest");
  auto config = hmt::test::tiny_experiment((dir / "run").string());
  const auto& run = config.runtime.run_dir;
  hmt::save_resolved_config(config, run);
  auto model = hmt::build_hmt_model(config);
  // stage2 step 1 is newer than stage1 step 3 although it sorts first by name.
  std::vector<std::string> written;
  for (auto [stage, index, step] : {std::tuple{"stage1", 0, 2}, {"stage1", 0, 3}, {"stage2", 1, 1}, {"stage2", 1, 2}})
    written.push_back(hmt::save_checkpoint(run, *model, nullptr, config, state_at(stage, index, step, config), true));
  CHECK(hmt::list_checkpoints(run) == written);
  CHECK(hmt::newest_valid_checkpoint(run) == written[3]);

  // A truncated weights file in the newest, a broken json in the next.
  fs::resize_file(fs::path(written[3]) / "model.safetensors", 100);
  CHECK_THAT(hmt::checkpoint_problem(written[3]), Catch::Contains("model.safetensors") && Catch::Contains("100 bytes"));
  CHECK(hmt::newest_valid_checkpoint(run) == written[2]);
  std::ofstream(fs::path(written[2]) / "trainer_state.json") << "{\"stage\": ";
  CHECK_THAT(hmt::checkpoint_problem(written[2]), Catch::Contains("trainer_state.json: not valid JSON"));
  CHECK(hmt::newest_valid_checkpoint(run) == written[1]);
  CHECK_THROWS_WITH(hmt::load_run(written[2]), Catch::Contains("not a valid checkpoint"));

  hmt::prune_checkpoints(run, /*keep=*/2);
  CHECK(hmt::list_checkpoints(run) == std::vector<std::string>{written[2], written[3]});
  CHECK(hmt::newest_valid_checkpoint(run).empty());
  CHECK_THROWS_WITH(hmt::load_run(run), Catch::Contains("no valid checkpoint"));
}

TEST_CASE("checkpoint: load_run gives the model in eval mode with the stage's recall", "[trainer][checkpoint]") {
  auto dir = hmt::test::temp_dir("ckpt_load_run");
  auto config = hmt::test::tiny_experiment((dir / "run").string());
  hmt::save_resolved_config(config, config.runtime.run_dir);
  auto model = hmt::build_hmt_model(config);
  perturb(*model, -0.5);
  auto s1 = hmt::save_checkpoint(config.runtime.run_dir, *model, nullptr, config, state_at("stage1", 0, 3, config),
                                 true);
  auto from_s1 = hmt::load_run(s1);
  CHECK_FALSE(from_s1.model->config().recall.enabled);
  CHECK_FALSE(from_s1.model->is_training());
  CHECK(same_weights(*from_s1.model, *model));
  hmt::save_checkpoint(config.runtime.run_dir, *model, nullptr, config, state_at("stage2", 1, 1, config), true);
  auto newest = hmt::load_run(config.runtime.run_dir);
  CHECK(newest.model->config().recall.enabled);
  CHECK(newest.stage == 1);
  CHECK(newest.config == config);
}

TEST_CASE("checkpoint: weights of another architecture are refused with the tensor named", "[trainer][checkpoint]") {
  auto dir = hmt::test::temp_dir("ckpt_mismatch");
  auto config = hmt::test::tiny_experiment((dir / "run").string());
  hmt::save_resolved_config(config, config.runtime.run_dir);
  auto model = hmt::build_hmt_model(config);
  auto path = hmt::save_checkpoint(config.runtime.run_dir, *model, nullptr, config, state_at("stage1", 0, 1, config),
                                   true);
  auto wider = hmt::test::tiny_experiment((dir / "other").string());
  wider.model.hidden_size = 32;
  auto other = hmt::build_hmt_model(wider);
  CHECK_THROWS_WITH(hmt::load_weights(path, *other),
                    Catch::Contains("model.safetensors: does not fit this experiment's backbone") &&
                        Catch::Contains("\"model.embed_tokens.weight\": the model has [64, 32], the file [64, 16]"));
}
