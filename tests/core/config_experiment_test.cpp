#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "core/config.h"
#include "core/config_defaults.h"
#include "core/error.h"
#include "core/sha256.h"
#include "tests/core/config_test_files.h"

namespace fs = std::filesystem;

namespace {

std::string shipped(const std::string& relative) { return (hmt::test::source_dir() / "configs" / relative).string(); }

}  // namespace

TEST_CASE("config experiment: summary_tokens rounds L*f half to even like Python", "[config]") {
  hmt::HmtConfig hmt;
  hmt.sum_fraction = 0.5;
  hmt.segment_length = 5;
  CHECK(hmt.summary_tokens() == 2);
  hmt.segment_length = 7;
  CHECK(hmt.summary_tokens() == 4);
  hmt.segment_length = 1024;
  CHECK(hmt.summary_tokens() == 512);
  hmt.segment_length = 10;
  hmt.sum_fraction = 0.37;
  CHECK(hmt.summary_tokens() == 4);  // 3.7
  hmt.sum_fraction = 1.0;
  CHECK(hmt.summary_tokens() == 10);
}

TEST_CASE("config experiment: the demo composes runtime, tiny llama and tiny hmt", "[config]") {
  auto config = hmt::load_experiment(shipped("demo.yaml"), {});
  CHECK(config.runtime.run_dir == "runs/demo");
  CHECK(config.runtime.threads == 0);
  CHECK(config.model.type == "llama");
  CHECK(config.model.vocab_size == 8000);
  CHECK(config.model.hidden_size == 128);
  CHECK(config.model.num_layers == 2);
  CHECK(config.model.num_heads == 4);
  CHECK(config.model.kv_heads() == 2);
  CHECK(config.model.pretrained.empty());
  CHECK(config.hmt.segment_length == 16);  // demo.yaml overrides the group's 64
  CHECK(config.hmt.num_sensory == 8);
  CHECK(config.hmt.recall.context == 16);
  CHECK(config.hmt.recall.hidden_dim == 64);
  CHECK(config.tokenizer.path.empty());

  auto paper = hmt::load_experiment(shipped("demo.yaml"), {"hmt=default", "model=tiny_opt"});
  // The group option swaps the group's keys; demo.yaml's own segment_length
  // (its _self_ comes last) still wins, as in Hydra.
  CHECK(paper.hmt.segment_length == 16);
  CHECK(paper.hmt.num_sensory == 32);
  CHECK(paper.hmt.summary_tokens() == 8);
  CHECK(paper.hmt.recall.context == 300);
  CHECK(paper.model.type == "opt");
  CHECK(paper.model.input_embed_dim() == 64);
}

TEST_CASE("config experiment: every shipped experiment and every group option loads and validates", "[config]") {
  int experiments = 0, options = 0;
  for (const auto& entry : fs::directory_iterator(hmt::test::source_dir() / "configs")) {
    if (entry.is_regular_file() && entry.path().extension() == ".yaml") {
      INFO(entry.path());
      CHECK_NOTHROW(hmt::load_experiment(entry.path().string(), {}));
      ++experiments;
    } else if (entry.is_directory() && entry.path().filename() == "paper") {
      continue;  // the paper's experiments, not a group: tests/configs/paper_configs_test.cpp
    } else if (entry.is_directory()) {
      // Group files are not experiments on their own: load each through the
      // demo, choosing it for its group.
      for (const auto& option : fs::directory_iterator(entry.path())) {
        std::string choice = entry.path().filename().string() + "=" + option.path().stem().string();
        INFO(choice);
        CHECK_NOTHROW(hmt::load_experiment(shipped("demo.yaml"), {choice}));
        ++options;
      }
    }
  }
  CHECK(experiments >= 1);
  CHECK(options >= 6);
}

TEST_CASE("config experiment: to_yaml holds every key, and loading it again gives an equal config", "[config]") {
  auto config = hmt::load_experiment(shipped("demo.yaml"),
                                     {"+model.dropout=0.1", "runtime.seed=18446744073709551615",
                                      "tokenizer.path=tok/\\${literal}.model", "hmt.sum_fraction=0.3"});
  std::string text = hmt::to_yaml(config);
  CHECK_THAT(text, Catch::Contains("  segment_length: 16\n") && Catch::Contains("  rope_theta: 10000.0\n") &&
                       Catch::Contains("  dropout: 0.1\n") && Catch::Contains("  log_level: \"info\"\n") &&
                       Catch::Contains("  pretrained: \"\"\n") && Catch::Contains("  recall:\n    enabled: true\n"));

  auto dir = hmt::test::temp_dir("config_roundtrip");
  std::string saved = hmt::test::write_config(dir, "config.yaml", text);
  auto again = hmt::load_experiment(saved, {});
  CHECK(again == config);
  CHECK(again.runtime.seed == 18446744073709551615ull);
  CHECK(again.tokenizer.path == "tok/${literal}.model");
  CHECK(again.hmt.sum_fraction == 0.3);
  CHECK(hmt::to_yaml(again) == text);

  // A pretrained model leaves the architecture keys null, and that reloads too.
  auto pretrained = config;
  pretrained.model = hmt::ModelConfig{};
  pretrained.model.pretrained = "/models/gpt2";
  std::string pretrained_text = hmt::to_yaml(pretrained);
  CHECK_THAT(pretrained_text, Catch::Contains("  type: ~\n"));
  auto reloaded = hmt::load_experiment(hmt::test::write_config(dir, "p.yaml", pretrained_text), {});
  CHECK(reloaded == pretrained);
  CHECK(reloaded != config);
}

TEST_CASE("config experiment: config_hash is sha256 of to_yaml and changes with any value", "[config]") {
  auto config = hmt::load_experiment(shipped("demo.yaml"), {});
  CHECK(hmt::config_hash(config) == hmt::sha256_hex(hmt::to_yaml(config)));
  auto changed = config;
  changed.hmt.recall.enabled = false;
  CHECK(hmt::config_hash(changed) != hmt::config_hash(config));
}

TEST_CASE("config experiment: save_resolved_config writes RUN_DIR/config.yaml and leaves no temp file", "[config]") {
  auto config = hmt::load_experiment(shipped("demo.yaml"), {});
  auto run_dir = hmt::test::temp_dir("config_save") / "run" / "nested";
  hmt::save_resolved_config(config, run_dir.string());
  CHECK(hmt::test::read_text(run_dir / "config.yaml") == hmt::to_yaml(config));
  int files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(run_dir)) ++files;
  CHECK(files == 1);
  hmt::save_resolved_config(config, run_dir.string());  // overwrites in place
  CHECK(hmt::load_experiment((run_dir / "config.yaml").string(), {}) == config);

  std::string blocked = hmt::test::write_config(hmt::test::temp_dir("config_save"), "file", "x");
  REQUIRE_THROWS_WITH(hmt::save_resolved_config(config, blocked + "/run"),
                      Catch::Contains(blocked + "/run: cannot create the run directory"));
}

TEST_CASE("config experiment: docs/configs.md contains the generated key table", "[config]") {
  std::string docs = hmt::test::read_text(hmt::test::source_dir() / "docs" / "configs.md");
  std::string table = hmt::describe_experiment_keys();
  CHECK_THAT(table, Catch::Contains("| `hmt.segment_length` | int | `required` | [1, 1048576] |"));
  CHECK_THAT(table, Catch::Contains("| `model.dropout` | float | `0.0` | [0, 1) |"));
  INFO("regenerate the table in docs/configs.md from hmt::describe_experiment_keys()");
  CHECK_THAT(docs, Catch::Contains(table));
}

TEST_CASE("config experiment: stage kinds, loss scope, trainable mode and dist backend are enums parsed once",
          "[config]") {
  auto config = hmt::load_experiment(shipped("demo.yaml"), {"train.loss_scope=last", "model.trainable=frozen",
                                                            "dist.backend=mpi", "train.stages=[backbone, stage2]"});
  CHECK(config.train.loss_scope == hmt::LossScope::Last);
  CHECK(config.model.trainable == hmt::TrainableMode::Frozen);
  CHECK(config.dist.backend == hmt::DistBackend::Mpi);
  CHECK((config.train.stages == std::vector<hmt::StageKind>{hmt::StageKind::Backbone, hmt::StageKind::Stage2}));
  // Written back by name, so the stored config reads as the user wrote it.
  const std::string text = hmt::to_yaml(config);
  CHECK(text.find("loss_scope: \"last\"") != std::string::npos);
  CHECK(text.find("backend: \"mpi\"") != std::string::npos);
  CHECK(text.find("stages: [\"backbone\", \"stage2\"]") != std::string::npos);
  REQUIRE_THROWS_WITH(hmt::load_experiment(shipped("demo.yaml"), {"train.loss_scope=first"}),
                      Catch::Contains("train.loss_scope: 'first' is not one of all, last"));
  REQUIRE_THROWS_WITH(hmt::load_experiment(shipped("demo.yaml"), {"dist.backend=gloo"}),
                      Catch::Contains("dist.backend: 'gloo' is not one of auto, mpi, nccl"));
}
