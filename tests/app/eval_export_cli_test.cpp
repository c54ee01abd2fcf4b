// `hmt eval`, `hmt export` and `hmt plot` end to end through the executable:
// a tiny run trained here is exported and scored (equal to scoring its
// checkpoint), evaluated from the run directory and from the export (equal),
// and the bad inputs of each command are named.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "core/config.h"
#include "data/store/token_store.h"
#include "eval/perplexity.h"
#include "data/store/token_stream.h"
#include "data/tokenizers/tokenizer.h"
#include "core/sha256.h"
#include "model/hmt_export.h"
#include "model/safetensors.h"
#include "tests/app/run_command.h"
#include "tests/app/trained_run.h"
#include "tests/eval/eval_fixtures.h"
#include "tests/test_paths.h"
#include "tests/trainer/trainer_fixtures.h"
#include "trainer/checkpoint.h"

namespace fs = std::filesystem;
using hmt::test::run_hmt;

namespace {

constexpr int64_t kVocab = hmt::test::kTinyVocab;
using hmt::test::trained_run;
using hmt::test::TrainedRun;

std::string ids_file(const fs::path& path, int64_t count) {
  auto ids = hmt::test::pattern_documents({count}, static_cast<int32_t>(kVocab), /*seed=*/5)[0];
  std::ofstream out(path);
  for (auto id : ids) out << id << ' ';
  return path.string();
}

double checkpoint_nll(const std::string& run_dir, const std::string& ids_path) {
  auto run = hmt::load_run(run_dir);
  std::ifstream in(ids_path);
  std::vector<int64_t> ids;
  for (int64_t id; in >> id;) ids.push_back(id);
  torch::NoGradGuard no_grad;
  auto batch = torch::tensor(ids, torch::kLong).unsqueeze(0);
  return hmt::run_segments(*run.model, batch, {}, {}, hmt::RunnerOptions{}).nll_sum.item<double>();
}

nlohmann::json parse(const std::string& text) {
  INFO(text);
  return nlohmann::json::parse(text);
}

}  // namespace

TEST_CASE("export: the export of a run scores what the run's checkpoint scores (plain and LoRA)", "[export][cli]") {
  for (bool lora : {false, true}) {
    DYNAMIC_SECTION((lora ? "lora" : "full")) {
      auto t = trained_run(lora ? "export_lora" : "export_full", lora);
      const auto out = t.dir / "export";
      auto exported = run_hmt("export " + t.run.string() + " --out " + out.string());
      INFO(exported.err);
      REQUIRE(exported.exit_code == 0);
      CHECK(exported.out.find("HMT export") != std::string::npos);
      for (const char* file :
           {"config.json", "model.safetensors", "hmt.safetensors", "hmt_config.json", "tokenizer.json"})
        CHECK(fs::exists(out / file));
      // The export is a plain HF directory for the backbone: no LoRA tensor left.
      for (const auto& name : hmt::SafetensorsFile((out / "model.safetensors").string()).names())
        CHECK(name.find("lora_") == std::string::npos);
      const auto ids = ids_file(t.dir / "doc.ids", 70);
      auto scored = run_hmt("score " + out.string() + " --ids " + ids + " --json");
      REQUIRE(scored.exit_code == 0);
      const double expected = checkpoint_nll(t.run.string(), ids);
      // Merging LoRA into the weights rounds differently from adding its
      // product; without LoRA the weights are copied bit for bit.
      CHECK(parse(scored.out)["nll_sum"].get<double>() == Approx(expected).epsilon(lora ? 1e-5 : 1e-12));
    }
  }
}

TEST_CASE("export: an --out that is not empty is refused unless --force, nothing in it is touched", "[export][cli]") {
  auto t = trained_run("export_force", /*lora=*/false);
  const auto out = t.dir / "export";
  REQUIRE(run_hmt("export " + t.run.string() + " --out " + out.string()).exit_code == 0);
  const auto before = hmt::test::read_text(out / "hmt.safetensors");
  hmt::test::write_text(out / "notes.txt", "mine\n");

  auto again = run_hmt("export " + t.run.string() + " --out " + out.string());
  CHECK(again.exit_code == 1);
  CHECK(again.err.find(out.string()) != std::string::npos);
  CHECK(again.err.find("not empty") != std::string::npos);
  CHECK(again.err.find("--force") != std::string::npos);
  CHECK(hmt::test::read_text(out / "hmt.safetensors") == before);
  for (const auto& entry : fs::directory_iterator(t.dir))  // no staging directory left behind
    CHECK(entry.path().filename().string().find(".partial-") == std::string::npos);

  // Any non-empty directory, export or not.
  const auto other = t.dir / "other";
  hmt::test::write_text(other / "data.bin", "x");
  CHECK(run_hmt("export " + t.run.string() + " --out " + other.string()).exit_code == 1);
  CHECK(hmt::test::read_text(other / "data.bin") == "x");
  // An empty directory is fine.
  fs::create_directories(t.dir / "empty");
  CHECK(run_hmt("export " + t.run.string() + " --out " + (t.dir / "empty").string()).exit_code == 0);

  auto forced = run_hmt("export " + t.run.string() + " --out " + out.string() + " --force");
  INFO(forced.err);
  CHECK(forced.exit_code == 0);
  CHECK(hmt::test::read_text(out / "hmt.safetensors") == before);  // the same run exports the same bytes
  CHECK(hmt::test::read_text(out / "notes.txt") == "mine\n");      // files of its own are left alone
}

TEST_CASE("eval: a run directory and its export evaluate the same, JSON, eval.json and the histogram PNG",
          "[eval][cli]") {
  auto t = trained_run("eval_cli", /*lora=*/false);
  const auto exported = t.dir / "export";
  REQUIRE(run_hmt("export " + t.run.string() + " --out " + exported.string()).exit_code == 0);
  const std::string common = " --data " + t.data.string() + " --contexts 16,41 --windows 4 --batch 3 --json";
  auto from_run = run_hmt("eval " + t.run.string() + common + " --mode hmt,rmt,backbone --out " +
                          (t.dir / "eval_run").string());
  INFO(from_run.err);
  REQUIRE(from_run.exit_code == 0);
  auto from_export = run_hmt("eval " + exported.string() + common + " --mode hmt,rmt,backbone");
  REQUIRE(from_export.exit_code == 0);
  auto a = parse(from_run.out), b = parse(from_export.out);
  REQUIRE(a["results"].size() == 3);
  for (size_t m = 0; m < 3; ++m) {
    CHECK(a["results"][m]["mode"] == b["results"][m]["mode"]);
    const auto& rows_a = a["results"][m]["contexts"];
    const auto& rows_b = b["results"][m]["contexts"];
    REQUIRE(rows_a.size() == 2);
    CHECK(rows_a[0]["context"] == 16);
    CHECK(rows_a[1]["context"] == 48);  // rounded up to a multiple of L = 8
    for (size_t i = 0; i < 2; ++i) CHECK(rows_a[i]["nll_sum"].get<double>() == rows_b[i]["nll_sum"].get<double>());
  }
  // A checkpoint directory of the run (it holds hmt.safetensors, as an export
  // does, but no hmt_config.json) evaluates as the run's newest checkpoint.
  {
    std::vector<fs::path> checkpoints;
    for (const auto& e : fs::directory_iterator(t.run / "checkpoints")) checkpoints.push_back(e.path());
    REQUIRE_FALSE(checkpoints.empty());
    std::sort(checkpoints.begin(), checkpoints.end());
    REQUIRE(fs::exists(checkpoints.back() / "hmt.safetensors"));
    auto from_checkpoint = run_hmt("eval " + checkpoints.back().string() + common + " --mode hmt,rmt,backbone");
    INFO(from_checkpoint.err);
    REQUIRE(from_checkpoint.exit_code == 0);
    auto c = parse(from_checkpoint.out);
    for (size_t m = 0; m < 3; ++m)
      for (size_t i = 0; i < 2; ++i)
        CHECK(c["results"][m]["contexts"][i]["nll_sum"].get<double>() ==
              a["results"][m]["contexts"][i]["nll_sum"].get<double>());
  }
  // The library on the loaded export gives the CLI's figures.
  {
    auto model = hmt::load_hmt_export(exported.string());
    hmt::TokenStore store(t.data.string());
    hmt::DocumentView view(store.split("test"), {});
    hmt::TokenStream stream(view);
    hmt::ContextEvalOptions options;
    options.contexts = {16, 41};
    options.windows = 4;
    options.batch = 3;
    auto rows = hmt::context_perplexity(*model, stream, options, nullptr);
    CHECK(rows[1].nll_sum == Approx(b["results"][0]["contexts"][1]["nll_sum"].get<double>()).epsilon(1e-12));
  }
  // Files: eval.json equals the printed report; a histogram for hmt mode.
  std::ifstream report(t.dir / "eval_run" / "eval.json");
  CHECK(nlohmann::json::parse(report)["results"] == a["results"]);
  const auto& histogram = a["results"][0]["recall_histogram"];
  CHECK(histogram["recalls"].get<int64_t>() == 4 * (48 / 8));
  if (histogram["png"].is_string()) CHECK(fs::exists(histogram["png"].get<std::string>()));
  CHECK_FALSE(a["results"][1].contains("recall_histogram"));  // rmt recalls nothing

  // Readable table by default; whole documents without --contexts.
  auto table = run_hmt("eval " + exported.string() + " --data " + t.data.string() + " --max-documents 2");
  REQUIRE(table.exit_code == 0);
  CHECK(table.out.find("documents 2") != std::string::npos);
  CHECK(table.out.find("PPL") != std::string::npos);
}

TEST_CASE("eval, export, plot: bad inputs are named", "[eval][cli]") {
  auto t = trained_run("eval_errors", /*lora=*/false);
  auto missing_split = run_hmt("eval " + t.run.string() + " --data " + t.data.string() + " --split nope");
  CHECK(missing_split.exit_code == 1);
  CHECK(missing_split.err.find("nope") != std::string::npos);
  CHECK(missing_split.err.find(t.data.string()) != std::string::npos);

  // Data prepared with another tokenizer: both fingerprints are named.
  const auto other = t.dir / "other.h5";
  hmt::test::write_documents_store(other.string(), hmt::test::pattern_documents({50}, kVocab), kVocab, "test",
                                   "another-fingerprint");
  auto mismatch = run_hmt("eval " + t.run.string() + " --data " + other.string());
  CHECK(mismatch.exit_code == 1);
  CHECK(mismatch.err.find("another-fingerprint") != std::string::npos);

  auto too_long = run_hmt("eval " + t.run.string() + " --data " + t.data.string() + " --contexts 100000");
  CHECK(too_long.exit_code == 1);
  CHECK(too_long.err.find("needs") != std::string::npos);

  auto bad_mode = run_hmt("eval " + t.run.string() + " --data " + t.data.string() + " --mode memory");
  CHECK(bad_mode.exit_code != 0);
  CHECK(bad_mode.err.find("memory") != std::string::npos);

  // A plain HF directory: backbone mode only, with --segment-length.
  const auto checkpoint = hmt::newest_valid_checkpoint(t.run.string());
  const auto hf = t.dir / "hf";
  fs::create_directories(hf);
  for (const char* f : {"config.json", "model.safetensors"}) fs::copy_file(fs::path(checkpoint) / f, hf / f);
  auto no_length = run_hmt("eval " + hf.string() + " --data " + t.data.string());
  CHECK(no_length.exit_code == 1);
  CHECK(no_length.err.find("--segment-length") != std::string::npos);
  auto hf_hmt = run_hmt("eval " + hf.string() + " --data " + t.data.string() + " --segment-length 8 --mode hmt");
  CHECK(hf_hmt.exit_code == 1);
  CHECK(hf_hmt.err.find("mode backbone") != std::string::npos);
  auto hf_backbone = run_hmt("eval " + hf.string() + " --data " + t.data.string() +
                             " --segment-length 8 --contexts 8 --json");
  INFO(hf_backbone.err);
  CHECK(hf_backbone.exit_code == 0);
  // Full attention needs no hmt.* tensors, but scores context lengths only.
  auto hf_full = run_hmt("eval " + hf.string() + " --data " + t.data.string() +
                         " --segment-length 8 --mode full --contexts 8 --json");
  INFO(hf_full.err);
  CHECK(hf_full.exit_code == 0);
  CHECK(hf_full.out.find("\"mode\":\"full\"") != std::string::npos);
  auto full_documents = run_hmt("eval " + t.run.string() + " --data " + t.data.string() + " --mode full");
  CHECK(full_documents.exit_code == 1);
  CHECK(full_documents.err.find("--contexts") != std::string::npos);
  // Oracle recall scores recall samples only.
  auto oracle_lm = run_hmt("eval " + t.run.string() + " --data " + t.data.string() + " --mode hmt,hmt-oracle");
  CHECK(oracle_lm.exit_code == 1);
  CHECK(oracle_lm.err.find("hmt-oracle") != std::string::npos);
  CHECK(oracle_lm.err.find("--dataset passkey") != std::string::npos);
  CHECK(oracle_lm.err.find(t.data.string()) != std::string::npos);

  auto not_a_run = run_hmt("export " + t.dir.string() + " --out " + (t.dir / "x").string());
  CHECK(not_a_run.exit_code == 1);
  CHECK(not_a_run.err.find(t.dir.string()) != std::string::npos);
  CHECK_FALSE(fs::exists(t.dir / "x"));

  auto no_metrics = run_hmt("plot training " + t.dir.string() + " --out " + (t.dir / "p.png").string());
  CHECK(no_metrics.exit_code == 1);
  CHECK(no_metrics.err.find("metrics.jsonl") != std::string::npos);
}

TEST_CASE("plot: training curves of a run and PPL against context from eval reports", "[eval][cli][plot]") {
  auto t = trained_run("plot_cli", /*lora=*/false);
  auto curves = run_hmt("plot training " + t.run.string() + " --out " + (t.dir / "loss.png").string());
  INFO(curves.err);
  CHECK(fs::exists(t.dir / "loss.dat"));
  std::ifstream data(t.dir / "loss.dat");
  std::string line;
  int64_t points = 0;
  while (std::getline(data, line)) points += !line.empty() && line[0] != '#';
  CHECK(points == 4);  // 2 steps of stage 1 + 2 of stage 2
  REQUIRE(run_hmt("eval " + t.run.string() + " --data " + t.data.string() +
                  " --contexts 8,16 --windows 2 --json --out " + (t.dir / "ev").string())
              .exit_code == 0);
  auto contexts = run_hmt("plot contexts " + (t.dir / "ev" / "eval.json").string() + " --out " +
                          (t.dir / "ctx.png").string() + " --labels hmt");
  CHECK(fs::exists(t.dir / "ctx.gp"));
  if (curves.exit_code == 0) {
    CHECK(contexts.exit_code == 0);
    CHECK(fs::exists(t.dir / "ctx.png"));
  } else {
    WARN("no PNG: " << curves.err);  // gnuplot missing: data and script are still there
  }
}
