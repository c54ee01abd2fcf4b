#pragma once
// A tiny llama trained through `hmt train` for a few steps of both stages on
// patterned documents, for the tests of the commands that read a run (eval,
// export, score) and of their failures.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "core/config.h"
#include "core/sha256.h"
#include "data/store/token_store_writer.h"
#include "data/tokenizers/tokenizer.h"
#include "model/safetensors.h"
#include "tests/app/run_command.h"
#include "tests/eval/eval_fixtures.h"
#include "tests/test_paths.h"
#include "tests/trainer/trainer_fixtures.h"
#include "trainer/checkpoint.h"

namespace hmt::test {

constexpr int64_t kTinyVocab = 64;  // tests/trainer/trainer_fixtures.h

struct TrainedRun {
  std::filesystem::path dir, run, data, tokenizer, experiment;
};

// Its tokenizer.path is the repo's fixture tokenizer, whose fingerprint the
// data carries as `hmt prepare` writes it. The run goes to `run` (default:
// DIR/run, DIR a fresh temp dir named `name`).
inline TrainedRun trained_run(const std::string& name, bool lora, const std::filesystem::path& run = {}) {
  namespace fs = std::filesystem;
  TrainedRun t;
  t.dir = temp_dir(name);
  t.tokenizer = fixtures() / "data" / "bytes_tokenizer" / "tokenizer.json";
  const std::string fingerprint = tokenizer_fingerprint(t.tokenizer.string());
  auto docs = pattern_documents({300, 260, 220}, static_cast<int32_t>(kTinyVocab));
  t.data = t.dir / "tokens.h5";
  {
    StoreHeader header;
    header.dataset = "text";
    header.tokenizer_fingerprint = fingerprint;
    header.vocab_size = kTinyVocab;
    header.inputs_sha256 = "eval-cli";
    TokenStoreWriter writer(t.data.string(), header);
    for (const char* split : {"train", "validation", "test"}) {
      auto out = writer.begin_split(split, /*qa=*/false, {{"f.txt", "00", 1}});
      for (size_t d = 0; d < docs.size(); ++d) out.add_document(std::to_string(d), docs[d]);
      out.mark_units(static_cast<int64_t>(docs.size()), {});
      out.finish();
    }
    writer.finish({"train", "validation", "test"});
  }
  t.run = run.empty() ? t.dir / "run" : run;
  auto config = tiny_experiment(t.run.string());
  config.data.path = t.data.string();
  config.tokenizer.path = t.tokenizer.string();
  config.train.validation.batches = 0;
  config.train.stage1.steps = 2;
  config.train.stage2.steps = 2;
  if (lora) {
    config.lora.enabled = true;
    config.lora.rank = 2;
    config.model.trainable = TrainableMode::Lora;
  }
  t.experiment = t.dir / "experiment.yaml";
  std::ofstream(t.experiment) << to_yaml(config);
  auto trained = run_hmt("train " + t.experiment.string() + " runtime.threads=1");
  INFO(trained.err);
  REQUIRE(trained.exit_code == 0);
  if (lora) {
    // Adapters start at zero (B = 0); make them matter, as training would.
    const auto checkpoint = newest_valid_checkpoint(t.run.string());
    const auto path = (fs::path(checkpoint) / "lora.safetensors").string();
    NamedTensors tensors;
    std::map<std::string, std::string> metadata;
    {
      SafetensorsFile file(path);
      metadata = file.metadata();
      torch::manual_seed(3);
      for (const auto& name : file.names()) tensors.emplace_back(name, torch::randn_like(file.get(name)) * 0.3);
    }
    save_safetensors(path, tensors, metadata);
    // The trainer state records each file's size and sha256: record the new
    // content, as a checkpoint written with these adapters would.
    const auto state_path = fs::path(checkpoint) / "trainer_state.json";
    auto state = nlohmann::json::parse(read_text(state_path));
    state["files"]["lora.safetensors"]["sha256"] = sha256_file(path);
    std::ofstream(state_path, std::ios::binary) << state.dump(2) << "\n";
    REQUIRE(checkpoint_problem(checkpoint).empty());
  }
  return t;
}

}  // namespace hmt::test
