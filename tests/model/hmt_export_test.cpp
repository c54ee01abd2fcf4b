#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "model/hmt_export.h"
#include "model/lora.h"
#include "model/safetensors.h"
#include "tests/model/tiny_hmt_model.h"
#include "tests/test_paths.h"
#include "model/segment_runner.h"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using hmt::test::tiny_hmt_model;

namespace {

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::set<std::string> files_in(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.insert(entry.path().filename().string());
  return names;
}

hmt::BatchNll score(hmt::HmtModel& model, const std::vector<int32_t>& ids) {
  torch::NoGradGuard no_grad;
  return hmt::run_segments(model, hmt::test::as_batch(ids), /*mask=*/{}, /*score_mask=*/{}, hmt::RunnerOptions{});
}

void rewrite_json(const fs::path& path, const std::function<void(nlohmann::json&)>& edit) {
  auto json = nlohmann::json::parse(slurp(path));
  edit(json);
  std::ofstream(path, std::ios::binary) << json.dump(2);
}

// An export of the recall-`recall` llama model in a fresh directory.
fs::path fresh_export(const std::string& name, bool recall) {
  auto dir = hmt::test::temp_dir(name) / "export";
  auto model = tiny_hmt_model("llama", recall);
  hmt::save_hmt_export(*model, dir.string());
  return dir;
}

// The same without its manifest: an export edited by hand (or written by
// another tool), where the loader's own checks are what names the problem.
fs::path unlisted_export(const std::string& name, bool recall) {
  auto dir = fresh_export(name, recall);
  fs::remove(dir / "hmt_manifest.json");
  return dir;
}

}  // namespace

TEST_CASE("hmt_export: round trip keeps every tensor and the score, for each family", "[export]") {
  for (const std::string family : {"llama", "gpt2", "opt"}) {
    for (bool recall : {false, true}) {
      INFO(family << " recall " << recall);
      auto parent = hmt::test::temp_dir("export_roundtrip");
      auto dir = parent / "out";
      auto model = tiny_hmt_model(family, recall);
      hmt::save_hmt_export(*model, dir.string());

      // Exactly the spec's files, and no staging directory left beside them.
      CHECK(files_in(dir) == std::set<std::string>{"config.json", "model.safetensors", "hmt.safetensors",
                                                   "hmt_config.json", "hmt_manifest.json"});
      CHECK(files_in(parent) == std::set<std::string>{"out"});

      std::set<std::string> expected_hmt = {"hmt.memory"};
      if (recall) expected_hmt.insert({"hmt.summary_prompt", "hmt.recall.wq.weight", "hmt.recall.wk.weight"});
      auto names = hmt::SafetensorsFile((dir / "hmt.safetensors").string()).names();
      CHECK(std::set<std::string>(names.begin(), names.end()) == expected_hmt);

      auto config = nlohmann::json::parse(slurp(dir / "hmt_config.json"));
      nlohmann::json expected_config = {{"segment_length", 8},
                                        {"num_sensory", 3},
                                        {"sum_fraction", 0.5},
                                        {"recall", {{"enabled", recall}, {"context", 2}, {"hidden_dim", 6}}}};
      CHECK(config == expected_config);

      auto loaded = hmt::load_hmt_export(dir.string());
      CHECK_FALSE(loaded->is_training());
      CHECK(loaded->config().segment_length == 8);
      CHECK(loaded->config().recall.enabled == recall);
      CHECK(loaded->backbone().config().model_type == model->backbone().config().model_type);

      auto original = model->hmt_tensors(), reloaded = loaded->hmt_tensors();
      REQUIRE(original.size() == reloaded.size());
      for (size_t i = 0; i < original.size(); ++i) {
        CHECK(original[i].first == reloaded[i].first);
        CHECK(torch::equal(original[i].second, reloaded[i].second));
      }
      auto before = model->backbone().named_parameters(), after = loaded->backbone().named_parameters();
      REQUIRE(before.size() == after.size());
      for (const auto& item : before) CHECK(torch::equal(item.value(), after[item.key()]));

      auto ids = hmt::test::tiny_document();
      auto a = score(*model, ids), b = score(*loaded, ids);
      CHECK(a.tokens == 29);
      CHECK(b.tokens == a.tokens);
      CHECK(b.nll_sum.item<double>() == a.nll_sum.item<double>());
      REQUIRE(a.segments.size() == 4);
      REQUIRE(b.segments.size() == a.segments.size());
      for (size_t s = 0; s < a.segments.size(); ++s) {
        CHECK(b.segments[s].tokens == a.segments[s].tokens);
        CHECK(b.segments[s].nll_sum == a.segments[s].nll_sum);
      }
    }
  }
}

TEST_CASE("hmt_export: the tokenizer file is copied byte for byte", "[export]") {
  auto dir = hmt::test::temp_dir("export_tokenizer");
  auto tokenizer = dir / "tokenizer.json";
  std::ofstream(tokenizer, std::ios::binary) << "{\"model\": {\"type\": \"BPE\"}, \"bytes\": \"\xc3\xa9\"}\n";
  auto model = tiny_hmt_model("gpt2", /*recall=*/true);
  hmt::save_hmt_export(*model, (dir / "out").string(), tokenizer.string());
  CHECK(files_in(dir / "out").count("tokenizer.json") == 1);
  CHECK(slurp(dir / "out" / "tokenizer.json") == slurp(tokenizer));

  REQUIRE_THROWS_WITH(hmt::save_hmt_export(*model, (dir / "out2").string(), (dir / "absent.json").string()),
                      Contains("absent.json") && Contains("not found"));
  CHECK_FALSE(fs::exists(dir / "out2"));
}

TEST_CASE("hmt_export: exporting over an existing export replaces its files", "[export]") {
  auto dir = hmt::test::temp_dir("export_replace") / "out";
  hmt::save_hmt_export(*tiny_hmt_model("opt", /*recall=*/true, /*seed=*/1), dir.string());
  auto second = tiny_hmt_model("opt", /*recall=*/false, /*seed=*/2);
  hmt::save_hmt_export(*second, dir.string());
  auto loaded = hmt::load_hmt_export(dir.string());
  CHECK_FALSE(loaded->config().recall.enabled);
  CHECK(torch::equal(loaded->hmt_tensors().front().second, second->hmt_tensors().front().second));
  auto ids = hmt::test::tiny_document();
  CHECK(score(*loaded, ids).nll_sum.item<double>() == score(*second, ids).nll_sum.item<double>());
  CHECK(files_in(dir.parent_path()) == std::set<std::string>{"out"});
}

TEST_CASE("hmt_export: missing files name the file", "[export]") {
  for (const char* file : {"hmt_config.json", "hmt.safetensors", "model.safetensors", "config.json"}) {
    INFO(file);
    auto dir = fresh_export("export_missing", /*recall=*/false);
    fs::remove(dir / file);
    REQUIRE_THROWS_WITH(hmt::load_hmt_export(dir.string()), Contains((dir / file).string()));
  }
  REQUIRE_THROWS_WITH(hmt::load_hmt_export("/nonexistent/export"), Contains("/nonexistent/export"));
}

TEST_CASE("hmt_export: an export with either hmt file gone is still an export, and refused", "[export]") {
  for (const char* file : {"hmt_config.json", "hmt.safetensors"}) {
    INFO(file);
    auto dir = fresh_export("export_half", /*recall=*/false);
    fs::remove(dir / file);
    CHECK(hmt::is_hmt_export(dir.string()));  // not scored as a plain backbone
    REQUIRE_THROWS_WITH(hmt::load_hmt_export(dir.string()), Contains((dir / file).string()) && Contains("missing"));
  }
  // A plain HF directory has neither file.
  auto plain = fresh_export("export_plain", /*recall=*/false);
  fs::remove(plain / "hmt_config.json");
  fs::remove(plain / "hmt.safetensors");
  CHECK_FALSE(hmt::is_hmt_export(plain.string()));
}

TEST_CASE("hmt_export: bad hmt_config.json keys name the file and the key", "[export]") {
  struct Case {
    const char* what;
    std::function<void(nlohmann::json&)> edit;
    const char* key;
  };
  std::vector<Case> cases = {
      {"missing key", [](nlohmann::json& j) { j.erase("num_sensory"); }, "num_sensory"},
      {"missing nested key", [](nlohmann::json& j) { j["recall"].erase("context"); }, "recall.context"},
      {"wrong type", [](nlohmann::json& j) { j["segment_length"] = "long"; }, "segment_length"},
      {"out of range", [](nlohmann::json& j) { j["sum_fraction"] = 1.5; }, "sum_fraction"},
      {"unknown key", [](nlohmann::json& j) { j["recall"]["contxt"] = 4; }, "contxt"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    auto dir = unlisted_export("export_badkey", /*recall=*/true);
    rewrite_json(dir / "hmt_config.json", c.edit);
    REQUIRE_THROWS_WITH(hmt::load_hmt_export(dir.string()),
                        Contains((dir / "hmt_config.json").string()) && Contains(c.key));
  }
  auto dir = unlisted_export("export_badjson", /*recall=*/true);
  std::ofstream(dir / "hmt_config.json") << "{\"segment_length\": 8,";
  REQUIRE_THROWS_WITH(hmt::load_hmt_export(dir.string()),
                      Contains((dir / "hmt_config.json").string()) && Contains("not valid JSON"));
}

TEST_CASE("hmt_export: tampered hmt tensors name the file, the tensor and the shapes", "[export]") {
  auto dir = unlisted_export("export_shape", /*recall=*/true);
  const auto path = (dir / "hmt.safetensors").string();
  hmt::NamedTensors tensors;
  {
    hmt::SafetensorsFile file(path);
    for (const auto& name : file.names()) tensors.emplace_back(name, file.get(name).clone());
  }
  auto original = tensors;
  for (auto& [name, tensor] : tensors)
    if (name == "hmt.recall.wq.weight") tensor = torch::zeros({5, 24});  // [h, d] is [6, 24]
  hmt::save_safetensors(path, tensors);
  REQUIRE_THROWS_WITH(hmt::load_hmt_export(dir.string()),
                      Contains(path) && Contains("hmt.recall.wq.weight") && Contains("[6, 24]") && Contains("[5, 24]"));

  tensors = original;
  tensors.emplace_back("hmt.extra", torch::zeros({1}));
  hmt::save_safetensors(path, tensors);
  REQUIRE_THROWS_WITH(hmt::load_hmt_export(dir.string()),
                      Contains(path) && Contains("unexpected") && Contains("hmt.extra"));
}

TEST_CASE("hmt_export: recall enabled without the recall tensors is an error naming both files", "[export]") {
  auto dir = unlisted_export("export_recall", /*recall=*/false);
  rewrite_json(dir / "hmt_config.json", [](nlohmann::json& j) { j["recall"]["enabled"] = true; });
  REQUIRE_THROWS_WITH(hmt::load_hmt_export(dir.string()), Contains((dir / "hmt.safetensors").string()) &&
                                                              Contains("missing tensor") && Contains("hmt.recall") &&
                                                              Contains("recall.enabled true"));

  // And the reverse: recall tensors in a recall-disabled export are not silently dropped.
  dir = unlisted_export("export_recall_off", /*recall=*/true);
  rewrite_json(dir / "hmt_config.json", [](nlohmann::json& j) { j["recall"]["enabled"] = false; });
  REQUIRE_THROWS_WITH(hmt::load_hmt_export(dir.string()),
                      Contains((dir / "hmt.safetensors").string()) && Contains("unexpected tensor"));
}

TEST_CASE("hmt_export: a damaged file of an export is refused by its manifest, naming the file", "[export]") {
  for (const char* name : {"model.safetensors", "hmt.safetensors", "hmt_config.json", "config.json"}) {
    INFO(name);
    auto dir = fresh_export("export_damaged", /*recall=*/true);
    REQUIRE_NOTHROW(hmt::load_hmt_export(dir.string()));
    hmt::test::flip_last_bit(dir / name);
    REQUIRE_THROWS_WITH(hmt::load_hmt_export(dir.string()),
                        Contains((dir / name).string()) && Contains("content changed"));
  }
  // A plain HF directory (no manifest) loads as before.
  auto plain = unlisted_export("export_plain_dir", /*recall=*/false);
  CHECK_NOTHROW(hmt::load_backbone(plain.string()));
}

TEST_CASE("hmt_export: a tampered backbone tensor names model.safetensors", "[export]") {
  auto dir = unlisted_export("export_backbone", /*recall=*/false);
  const auto path = (dir / "model.safetensors").string();
  hmt::NamedTensors tensors;
  {
    hmt::SafetensorsFile file(path);
    for (const auto& name : file.names()) tensors.emplace_back(name, file.get(name).clone());
  }
  for (auto& [name, tensor] : tensors)
    if (name == "model.norm.weight") tensor = torch::ones({23});
  hmt::save_safetensors(path, tensors);
  REQUIRE_THROWS_WITH(hmt::load_hmt_export(dir.string()), Contains(path) && Contains("model.norm.weight"));
}

TEST_CASE("hmt_export: LoRA adapters are merged into model.safetensors and the live model keeps them",
          "[export][lora]") {
  for (const std::string family : {"llama", "gpt2", "opt"}) {
    INFO(family);
    auto model = tiny_hmt_model(family, /*recall=*/true);
    hmt::LoraConfig lora;
    lora.rank = 2;
    lora.alpha = 4;
    lora.dropout = 0.0;
    auto adapted = hmt::attach_lora(model->backbone(), lora);
    REQUIRE_FALSE(adapted.empty());
    {
      // B starts at zero: make the update non-trivial so that merging matters.
      torch::NoGradGuard no_grad;
      for (auto& item : model->named_parameters(/*recurse=*/true))
        if (item.key().find(".lora_B.") != std::string::npos) item.value().normal_(0, 0.5);
    }
    model->eval();
    auto ids = hmt::test::tiny_document();
    auto live = score(*model, ids);
    auto dir = hmt::test::temp_dir("export_lora") / "export";
    hmt::save_hmt_export(*model, dir.string());

    CHECK(hmt::lora_module_names(model->backbone()) == adapted);  // export left the live adapters alone
    hmt::SafetensorsFile weights((dir / "model.safetensors").string());
    for (const auto& name : weights.names()) CHECK(name.find("lora") == std::string::npos);

    auto loaded = hmt::load_hmt_export(dir.string());
    auto exported = score(*loaded, ids);
    CHECK(exported.nll_sum.item<double>() == Approx(live.nll_sum.item<double>()).epsilon(1e-5));
    // And the merge is what carries the adapters: the base weights alone score differently.
    auto base = tiny_hmt_model(family, /*recall=*/true);
    CHECK(score(*base, ids).nll_sum.item<double>() != Approx(live.nll_sum.item<double>()).epsilon(1e-5));
  }
}
