// `hmt score EXPORT_DIR --ids FILE --json [--grads]` (docs/hmt.md section 8)
// against the same computation done here on the loaded export.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <unordered_set>

#include "model/hmt_export.h"
#include "tests/app/run_command.h"
#include "tests/model/tiny_hmt_model.h"
#include "tests/test_paths.h"
#include "model/segment_runner.h"

namespace fs = std::filesystem;
using hmt::test::run_hmt;

namespace {

std::string write_ids_file(const fs::path& path, const std::vector<int32_t>& ids) {
  std::ofstream out(path);
  for (auto id : ids) out << id << (id % 3 ? " " : "\n");  // any whitespace separates ids
  return path.string();
}

std::vector<std::string> keys_of(const nlohmann::ordered_json& object) {
  std::vector<std::string> keys;
  for (const auto& item : object.items()) keys.push_back(item.key());
  return keys;
}

struct Reference {
  hmt::BatchNll run;
  std::vector<std::pair<std::string, double>> grad_norms;  // hmt.* by spec name, then "backbone"
};

// The export loaded here and run through run_segments directly; gradients by
// torch::autograd::grad rather than backward() into .grad.
Reference reference(const fs::path& dir, const std::vector<int32_t>& ids, bool grads) {
  auto model = hmt::load_hmt_export(dir.string());
  torch::AutoGradMode grad_mode(grads);
  Reference ref;
  ref.run = hmt::run_segments(*model, hmt::test::as_batch(ids), /*mask=*/{}, /*score_mask=*/{}, hmt::RunnerOptions{});
  if (!grads) return ref;
  auto hmt_tensors = model->hmt_tensors();
  auto named = model->named_parameters();
  std::vector<torch::Tensor> inputs;
  for (const auto& [name, tensor] : hmt_tensors) inputs.push_back(named[name]);
  const size_t n_hmt = inputs.size();
  std::unordered_set<const void*> seen;
  for (const auto& p : model->backbone().parameters())
    if (seen.insert(p.unsafeGetTensorImpl()).second) inputs.push_back(p);
  auto grads_out = torch::autograd::grad({ref.run.nll_sum}, inputs, /*grad_outputs=*/{}, /*retain_graph=*/false,
                                         /*create_graph=*/false, /*allow_unused=*/true);
  double backbone_squares = 0;
  for (size_t i = 0; i < grads_out.size(); ++i) {
    double squares = grads_out[i].defined() ? grads_out[i].to(torch::kFloat64).pow(2).sum().item<double>() : 0.0;
    if (i < n_hmt) ref.grad_norms.emplace_back(hmt_tensors[i].first, std::sqrt(squares));
    else backbone_squares += squares;
  }
  ref.grad_norms.emplace_back("backbone", std::sqrt(backbone_squares));
  return ref;
}

}  // namespace

TEST_CASE("score: an HMT export prints the spec's JSON, equal to run_segments on the loaded export", "[export][cli]") {
  for (const std::string family : {"llama", "gpt2", "opt"}) {
    for (bool recall : {false, true}) {
      INFO(family << " recall " << recall);
      auto dir = hmt::test::temp_dir("score_hmt");
      hmt::save_hmt_export(*hmt::test::tiny_hmt_model(family, recall), (dir / "export").string());
      auto ids = hmt::test::tiny_document();
      auto ids_file = write_ids_file(dir / "doc.ids", ids);

      auto result = run_hmt("score '" + (dir / "export").string() + "' --ids '" + ids_file + "' --json --threads 1");
      INFO(result.err);
      REQUIRE(result.exit_code == 0);
      // ordered: the key order of the output is checked too.
      auto json = nlohmann::ordered_json::parse(result.out);
      CHECK(keys_of(json) == std::vector<std::string>{"tokens", "nll_sum", "ppl", "segments"});

      auto ref = reference(dir / "export", ids, /*grads=*/false);
      CHECK(json["tokens"] == ref.run.tokens);
      CHECK(json["tokens"] == 29);
      const double nll_sum = ref.run.nll_sum.item<double>();
      CHECK(json["nll_sum"].get<double>() == Approx(nll_sum).epsilon(1e-6));
      CHECK(json["ppl"].get<double>() == Approx(std::exp(nll_sum / 29)).epsilon(1e-6));
      REQUIRE(json["segments"].size() == ref.run.segments.size());
      // 30 ids in segments of 8: the first token is not scored, the last segment is short.
      std::vector<int64_t> per_segment = {7, 8, 8, 6};
      double segment_total = 0;
      for (size_t s = 0; s < per_segment.size(); ++s) {
        const auto& segment = json["segments"][s];
        CHECK(keys_of(segment) == std::vector<std::string>{"tokens", "nll_sum"});
        CHECK(segment["tokens"] == per_segment[s]);
        CHECK(segment["tokens"] == ref.run.segments[s].tokens);
        CHECK(segment["nll_sum"].get<double>() == Approx(ref.run.segments[s].nll_sum).epsilon(1e-6));
        segment_total += segment["nll_sum"].get<double>();
      }
      // nll_sum is a float32 sum; the segments are summed in double.
      CHECK(segment_total == Approx(json["nll_sum"].get<double>()).epsilon(1e-6));
    }
  }
}

TEST_CASE("score --grads: gradient norms of each hmt tensor and the backbone equal autograd here", "[export][cli]") {
  for (const std::string family : {"llama", "gpt2", "opt"}) {
    for (bool recall : {false, true}) {
      INFO(family << " recall " << recall);
      auto dir = hmt::test::temp_dir("score_hmt_grads");
      hmt::save_hmt_export(*hmt::test::tiny_hmt_model(family, recall), (dir / "export").string());
      auto ids = hmt::test::tiny_document();
      auto ids_file = write_ids_file(dir / "doc.ids", ids);

      auto result = run_hmt("score '" + (dir / "export").string() + "' --ids '" + ids_file +
                            "' --json --grads --threads 1");
      INFO(result.err);
      REQUIRE(result.exit_code == 0);
      // ordered: the key order of the output is checked too.
      auto json = nlohmann::ordered_json::parse(result.out);
      CHECK(keys_of(json) == std::vector<std::string>{"tokens", "nll_sum", "ppl", "segments", "grad_norms"});

      auto ref = reference(dir / "export", ids, /*grads=*/true);
      CHECK(json["nll_sum"].get<double>() == Approx(ref.run.nll_sum.item<double>()).epsilon(1e-6));
      std::vector<std::string> expected_keys = {"hmt.memory"};
      if (recall) expected_keys = {"hmt.memory", "hmt.summary_prompt", "hmt.recall.wq.weight", "hmt.recall.wk.weight"};
      expected_keys.push_back("backbone");
      std::vector<std::string> ref_keys;
      for (const auto& [name, norm] : ref.grad_norms) ref_keys.push_back(name);
      // Order within hmt.* follows hmt_tensors(); the set is the spec's.
      CHECK(std::set<std::string>(ref_keys.begin(), ref_keys.end()) ==
            std::set<std::string>(expected_keys.begin(), expected_keys.end()));
      CHECK(keys_of(json["grad_norms"]) == ref_keys);
      for (const auto& [name, norm] : ref.grad_norms) {
        INFO(name);
        CHECK(norm > 0);  // every tensor reaches the loss on this document
        CHECK(json["grad_norms"][name].get<double>() == Approx(norm).epsilon(1e-5));
      }
    }
  }
}

TEST_CASE("score: errors for exports and for --grads on a plain HF directory", "[export][cli]") {
  auto dir = hmt::test::temp_dir("score_hmt_errors");
  auto model = hmt::test::tiny_hmt_model("gpt2", /*recall=*/true);
  hmt::save_hmt_export(*model, (dir / "export").string());
  hmt::save_backbone(model->backbone(), (dir / "plain").string());
  auto ids_file = write_ids_file(dir / "doc.ids", hmt::test::tiny_document());

  auto plain = run_hmt("score '" + (dir / "plain").string() + "' --ids '" + ids_file + "' --json --grads");
  CHECK(plain.exit_code == 1);
  CHECK_THAT(plain.err, Catch::Contains("--grads needs an HMT export"));

  std::ofstream(dir / "oov.ids") << "1 2 53";
  auto oov = run_hmt("score '" + (dir / "export").string() + "' --ids '" + (dir / "oov.ids").string() + "' --json");
  CHECK(oov.exit_code == 1);
  CHECK_THAT(oov.err, Catch::Contains("id 53") && Catch::Contains("oov.ids"));

  fs::remove(dir / "export" / "hmt_config.json");
  auto missing = run_hmt("score '" + (dir / "export").string() + "' --ids '" + ids_file + "' --json");
  CHECK(missing.exit_code == 1);
  CHECK_THAT(missing.err, Catch::Contains((dir / "export" / "hmt_config.json").string()));

  // The reverse: hmt_config.json says HMT, hmt.safetensors is gone. Scoring it
  // as a plain backbone (exit 0) would hide the loss of the memory.
  hmt::save_hmt_export(*model, (dir / "export2").string());
  fs::remove(dir / "export2" / "hmt.safetensors");
  auto no_tensors = run_hmt("score '" + (dir / "export2").string() + "' --ids '" + ids_file + "' --json");
  CHECK(no_tensors.exit_code == 1);
  CHECK_THAT(no_tensors.err,
             Catch::Contains((dir / "export2" / "hmt.safetensors").string()) && Catch::Contains("missing"));
}
