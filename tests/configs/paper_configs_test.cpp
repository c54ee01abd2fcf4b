// The paper experiments of configs/paper/ (docs/paper_configs.md): every
// file there resolves and validates without the weights or the data, and
// obeys the rules the paper's recipe and the official code fix for all of
// them. Files are found by listing the directory, so a new experiment is
// covered as soon as it is added.
//
// The project headers come first: torch (through test_paths.h) brings glog's
// CHECK macro, and Catch's CHECK must be the one defined last (the build's
// precompiled header orders them the same way).
#include "core/config.h"
#include "tests/test_paths.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace fs = std::filesystem;

namespace {

// The environment variables docs/paper_configs.md documents for the weights.
const std::vector<std::string> kWeightVariables = {"HMT_OPT350M", "HMT_OPT2_7B", "HMT_OPEN_LLAMA_3B", "HMT_LLAMA2_7B"};

fs::path paper_dir() { return hmt::test::source_dir() / "configs" / "paper"; }

// The experiments: the .yaml files directly in configs/paper/ (parts/ holds
// the pieces they include, which are not experiments on their own).
std::vector<fs::path> paper_experiments() {
  std::vector<fs::path> files;
  if (!fs::is_directory(paper_dir())) return files;
  for (const auto& entry : fs::directory_iterator(paper_dir()))
    if (entry.is_regular_file() && entry.path().extension() == ".yaml") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

// The parameter count in billions a model directory's name states:
// "Llama-2-7b-hf" -> 7, "opt-2.7b" -> 2.7, "open_llama_3b_v2" -> 3,
// "opt-350m" -> none.
std::optional<double> billions(const std::string& dir_name) {
  static const std::regex pattern(R"((\d+(?:\.\d+)?)b(?![a-z0-9]))");
  std::smatch match;
  const std::string name = lower(dir_name);
  if (!std::regex_search(name, match, pattern)) return std::nullopt;
  return std::stod(match[1].str());
}

bool contains(const std::vector<hmt::StageKind>& list, hmt::StageKind item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

std::ptrdiff_t position(const std::vector<hmt::StageKind>& list, hmt::StageKind item) {
  return std::find(list.begin(), list.end(), item) - list.begin();
}

// Sets the variables for the scope and puts back what was there before.
class ScopedEnv {
 public:
  void set(const std::string& name, const std::string& value) {
    const char* old = std::getenv(name.c_str());
    saved_.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
    ::setenv(name.c_str(), value.c_str(), /*overwrite=*/1);
  }
  void unset(const std::string& name) {
    const char* old = std::getenv(name.c_str());
    saved_.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
    ::unsetenv(name.c_str());
  }
  ~ScopedEnv() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
      if (it->second) ::setenv(it->first.c_str(), it->second->c_str(), 1);
      else ::unsetenv(it->first.c_str());
    }
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

}  // namespace

TEST_CASE("paper configs: every configs/paper/*.yaml resolves and validates", "[config][paper]") {
  auto files = paper_experiments();
  REQUIRE_FALSE(files.empty());
  for (const auto& file : files) {
    INFO(file);
    CHECK_NOTHROW(hmt::load_experiment(file.string(), {}));
  }
}

TEST_CASE("paper configs: the rules every paper experiment shares", "[config][paper]") {
  auto files = paper_experiments();
  REQUIRE_FALSE(files.empty());
  // The default weight paths, whatever the caller's environment says.
  ScopedEnv env;
  for (const auto& variable : kWeightVariables) env.unset(variable);
  for (const auto& file : files) {
    INFO(file);
    hmt::ExperimentConfig c;
    REQUIRE_NOTHROW(c = hmt::load_experiment(file.string(), {}));

    // A pretrained backbone on a GPU, its own tokenizer, a prepared file.
    CHECK(c.runtime.device == "cuda");
    CHECK_FALSE(c.model.pretrained.empty());
    CHECK_FALSE(c.model.from_scratch());
    CHECK_FALSE(c.tokenizer.path.empty());
    CHECK_FALSE(c.data.path.empty());
    REQUIRE(c.data.dataset.has_value());
    const bool qa = *c.data.dataset == "pubmedqa";
    CHECK(c.data.add_bos);                  // the official HF tokenizer call adds bos to every text
    if (!qa) CHECK(c.data.cross_document);  // the official code concatenates the split

    // HMT: k = 32, j = L/2, and L + k + the two memory slots is the official
    // --segment_length, one of the values the official code was run with.
    CHECK(c.hmt.num_sensory == 32);
    CHECK(c.hmt.sum_fraction == 0.5);
    CHECK(c.hmt.summary_tokens() * 2 == c.hmt.segment_length);
    const std::int64_t official_segment = c.hmt.segment_length + c.hmt.num_sensory + 2;
    CHECK((official_segment == 256 || official_segment == 512 || official_segment == 1024));
    CHECK(c.hmt.recall.enabled);  // the exported model recalls; stage 2 trains it

    // Stages: stage 2 (recall on) runs, after stage 1 when stage 1 runs; no
    // backbone pre-training.
    using hmt::StageKind;
    const auto& stages = c.train.stages;
    CHECK(contains(stages, StageKind::Stage2));
    CHECK_FALSE(contains(stages, StageKind::Backbone));
    if (contains(stages, StageKind::Stage1))
      CHECK(position(stages, StageKind::Stage1) < position(stages, StageKind::Stage2));
    CHECK(c.train.stage2.segments >= c.train.stage1.segments);
    CHECK(c.train.stage1.segments >= 2);
    // The recall cache holds at least every memory of the training unroll.
    CHECK(c.hmt.recall.context >= c.train.stage2.segments);
    for (const StageKind stage : stages) {
      INFO(hmt::to_string(stage));
      const auto& s = c.train.stage(stage);
      CHECK(s.steps >= 1);
      CHECK(s.schedule.name == "step");  // StepLR-style x gamma every 100 steps
      CHECK(s.schedule.step_size == 100);
      CHECK(s.schedule.gamma < 1.0);
      CHECK(s.schedule.warmup_steps == 0);
      CHECK(s.lr >= 1e-5);  // the paper's range, 1e-5 .. 2e-4
      CHECK(s.lr <= 2e-4);
    }

    // Loss on the last segment as the official code, except for QA, where
    // only the answer is scored and the answer may straddle a boundary.
    CHECK(c.train.loss_scope == (qa ? hmt::LossScope::All : hmt::LossScope::Last));
    CHECK(c.train.batch_size == 2);
    CHECK(c.train.bptt.checkpoint);
    CHECK(c.train.bptt.truncate == 0);

    // LoRA (r 8, alpha 32, dropout 0.1) for 7B-class backbones and only for
    // them; everything else is fully fine-tuned. The size is the one the
    // model directory's name states (opt-350m: none, opt-2.7b: 2.7, ...).
    const std::optional<double> size = billions(fs::path(c.model.pretrained).filename().string());
    INFO("model.pretrained " << c.model.pretrained);
    if (size && *size >= 6.5) {
      CHECK(c.lora.enabled);
      CHECK(c.model.trainable == hmt::TrainableMode::Lora);
      CHECK(c.lora.rank == 8);
      CHECK(c.lora.alpha == 32.0);
      CHECK(c.lora.dropout == 0.1);
    } else {
      CHECK_FALSE(c.lora.enabled);
      CHECK(c.model.trainable == hmt::TrainableMode::Full);
    }
  }
}

TEST_CASE("paper configs: runs and prepared files do not collide, and every backbone and dataset is covered",
          "[config][paper]") {
  auto files = paper_experiments();
  REQUIRE_FALSE(files.empty());
  std::map<std::string, std::string> run_dirs;     // run_dir -> file
  std::map<std::string, std::string> data_paths;   // data.path -> dataset
  std::map<std::string, std::string> path_tokens;  // data.path -> tokenizer file name
  std::set<std::string> backbones, datasets;
  for (const auto& file : files) {
    INFO(file);
    auto c = hmt::load_experiment(file.string(), {});
    auto [run, fresh] = run_dirs.emplace(c.runtime.run_dir, file.string());
    INFO("run_dir " << c.runtime.run_dir << " also used by " << run->second);
    CHECK(fresh);
    const std::string dataset = c.data.dataset.value_or("");
    auto [data, new_path] = data_paths.emplace(c.data.path, dataset);
    INFO("data.path " << c.data.path << " holds " << data->second);
    if (!new_path) CHECK(data->second == dataset);  // one prepared file, one dataset
    // One prepared file, one kind of tokenizer file (a directory, a .model).
    const std::string token_kind = fs::path(c.tokenizer.path).extension().string();
    auto [tok, new_tok] = path_tokens.emplace(c.data.path, token_kind);
    if (!new_tok) CHECK(tok->second == token_kind);
    backbones.insert(c.model.pretrained);
    datasets.insert(dataset);
  }
  CHECK(backbones.size() >= 4);
  for (const char* needed : {"wikitext103", "pg19", "pubmedqa"}) {
    INFO(needed);
    CHECK(datasets.count(needed) == 1);
  }
}

TEST_CASE("paper configs: weights come from the documented variables and are never opened", "[config][paper]") {
  auto files = paper_experiments();
  REQUIRE_FALSE(files.empty());
  const std::string prefix = (hmt::test::source_dir() / "no-such-dir-paper-configs").string();
  REQUIRE_FALSE(fs::exists(prefix));
  ScopedEnv env;
  for (const auto& variable : kWeightVariables) env.set(variable, prefix + "/" + variable);
  std::set<std::string> used;
  for (const auto& file : files) {
    INFO(file);
    hmt::ExperimentConfig c;
    // Loading needs neither the weights nor the tokenizer nor the data.
    REQUIRE_NOTHROW(c = hmt::load_experiment(file.string(), {}));
    INFO("model.pretrained = " << c.model.pretrained);
    CHECK(c.model.pretrained.rfind(prefix + "/", 0) == 0);
    used.insert(fs::path(c.model.pretrained).filename().string());
    // The tokenizer lives in (or is) the model directory.
    CHECK(c.tokenizer.path.rfind(c.model.pretrained, 0) == 0);
  }
  for (const auto& variable : kWeightVariables) {
    INFO(variable << " is documented but no paper experiment uses it");
    CHECK(used.count(variable) == 1);
  }
}

TEST_CASE("paper configs: docs/paper_configs.md names every experiment and every weights variable", "[config][paper]") {
  std::ifstream in(hmt::test::source_dir() / "docs" / "paper_configs.md");
  REQUIRE(in.good());
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string docs = buffer.str();
  for (const auto& file : paper_experiments()) {
    std::string relative = "configs/paper/" + file.filename().string();
    INFO(relative);
    CHECK(docs.find(relative) != std::string::npos);
  }
  for (const auto& variable : kWeightVariables) {
    INFO(variable);
    CHECK(docs.find(variable) != std::string::npos);
  }
}
