#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <fstream>

#include "core/config.h"
#include "core/sha256.h"
#include "data/tokenizers/tokenizer.h"
#include "model/backbone.h"
#include "model/scratch_config.h"
#include "tests/app/run_command.h"
#include "tests/test_paths.h"

using hmt::test::run_hmt;

namespace {

using hmt::test::write_text;

std::string ids_text(const std::vector<int32_t>& ids) {
  std::string s;
  for (auto id : ids) s += std::to_string(id) + " ";
  return s;
}

// Independent NLL: per position, log-sum-exp over the logits in double.
double naive_nll_sum(hmt::Backbone& backbone, const std::vector<int32_t>& ids) {
  torch::NoGradGuard no_grad;
  backbone.eval();
  auto input = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end())).unsqueeze(0);
  auto logits = backbone.forward(backbone.embed(input)).logits.squeeze(0).to(torch::kFloat64);
  double total = 0;
  for (size_t t = 0; t + 1 < ids.size(); ++t) {
    auto row = logits[t];
    double max = row.max().item<double>();
    double sum = 0;
    auto acc = row.accessor<double, 1>();
    for (int64_t v = 0; v < row.size(0); ++v) sum += std::exp(acc[v] - max);
    total += -(acc[ids[t + 1]] - max - std::log(sum));
  }
  return total;
}

}  // namespace

TEST_CASE("cli: every subcommand has --help", "[cli]") {
  for (const char* name : {"train", "prepare", "loader-bench", "eval", "score", "export", "generate", "tokenizer",
                           "bench", "init", "keys"}) {
    auto result = run_hmt(std::string(name) + " --help");
    INFO(name << ": " << result.err);
    CHECK(result.exit_code == 0);
    CHECK_THAT(result.out, Catch::Contains(name));
  }
  auto top = run_hmt("--help");
  REQUIRE(top.exit_code == 0);
  CHECK_THAT(top.out, Catch::Contains("tokenizer"));
}

TEST_CASE("cli: keys prints the schema's key table", "[cli]") {
  auto result = run_hmt("keys");
  REQUIRE(result.exit_code == 0);
  CHECK(result.out == hmt::describe_experiment_keys());
}

TEST_CASE("cli: commands without their required arguments name the missing one and exit non-zero", "[cli]") {
  for (auto [name, missing] : {std::pair{"eval", "model is required"}, {"export", "source is required"}}) {
    auto result = run_hmt(name);
    INFO(name);
    CHECK(result.exit_code != 0);
    CHECK_THAT(result.err, Catch::Contains(missing));
  }
  CHECK(run_hmt("no-such-command").exit_code != 0);
}

TEST_CASE("cli: a negative count on the command line is an error that names the flag", "[cli]") {
  auto dir = hmt::test::temp_dir("cli_negative");
  const std::string ids = write_text(dir / "doc.ids", "1 2 3\n");
  const std::string model = dir.string();  // existing paths, so that only the count is wrong
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"score " + model + " --ids " + ids + " --threads -3", "--threads"},
      {"eval " + model + " --threads -1", "--threads"},
      {"eval " + model + " --max-documents -2", "--max-documents"},
      {"eval " + model + " --contexts 16,-32", "--contexts"},
      {"generate " + model + " --prompt-ids " + ids + " --max-new-tokens -5", "--max-new-tokens"},
      {"generate " + model + " --prompt-ids " + ids + " --top-k -1", "--top-k"},
      {"bench --threads -3", "--threads"},
      {"bench --batch 0", "--batch"},
      {"bench --segments 2,-16", "--segments"},
      {"prepare --threads -4", "--threads"},
      {"tokenizer train --threads -2", "--threads"},
      {"loader-bench " + ids + " --world -1", "--world"},
  };
  for (const auto& [command, flag] : cases) {
    auto result = run_hmt(command);
    INFO(command << "\n" << result.err);
    CHECK(result.exit_code != 0);
    CHECK_THAT(result.err, Catch::Contains(flag));
  }
}

TEST_CASE("cli: tokenizer encode/decode equal the library and round-trip", "[cli][tokenizer]") {
  HMT_REQUIRE_SHARED("tokenizers/gpt2/tokenizer.json");
  auto dir = hmt::test::temp_dir("cli_tok");
  std::string tokenizer = (hmt::test::shared_data() / "tokenizers/gpt2/tokenizer.json").string();
  std::string text = "It's a truth universally acknowledged,\n\n  that a single man   in possession — 1234 €.\n";
  auto input = write_text(dir / "in.txt", text);

  auto encoded = run_hmt("tokenizer encode --tokenizer '" + tokenizer + "' --input '" + input + "'");
  REQUIRE(encoded.exit_code == 0);
  auto expected = hmt::load_tokenizer(tokenizer)->encode(text);
  REQUIRE(encoded.out == [&] {
    std::string line;
    for (size_t i = 0; i < expected.size(); ++i) line += (i ? " " : "") + std::to_string(expected[i]);
    return line + "\n";
  }());

  auto ids = write_text(dir / "ids.txt", encoded.out);
  auto decoded = run_hmt("tokenizer decode --tokenizer '" + tokenizer + "' --ids '" + ids + "'");
  REQUIRE(decoded.exit_code == 0);
  REQUIRE(decoded.out == text);

  auto bad = write_text(dir / "bad.txt", "1 2 x3 4");
  auto error = run_hmt("tokenizer decode --tokenizer '" + tokenizer + "' --ids '" + bad + "'");
  CHECK(error.exit_code == 1);
  CHECK_THAT(error.err, Catch::Contains("bad.txt") && Catch::Contains("entry #3") && Catch::Contains("x3"));
  auto out_of_vocab = write_text(dir / "oov.txt", "1 99999999");
  error = run_hmt("tokenizer decode --tokenizer '" + tokenizer + "' --ids '" + out_of_vocab + "'");
  CHECK(error.exit_code == 1);
  CHECK_THAT(error.err, Catch::Contains("99999999") && Catch::Contains("outside"));
}

TEST_CASE("cli: init writes a seeded random backbone that loads back", "[cli][init]") {
  auto dir = hmt::test::temp_dir("cli_init");
  std::string config = (hmt::test::source_dir() / "configs/demo.yaml").string();
  auto a = run_hmt("init '" + config + "' runtime.seed=7 --out '" + (dir / "a").string() + "'");
  INFO(a.err);
  REQUIRE(a.exit_code == 0);
  CHECK_THAT(a.out, Catch::Contains("segment_length"));  // the resolved config is printed
  REQUIRE(run_hmt("init '" + config + "' runtime.seed=7 --out '" + (dir / "b").string() + "'").exit_code == 0);
  REQUIRE(run_hmt("init '" + config + "' runtime.seed=8 --out '" + (dir / "c").string() + "'").exit_code == 0);
  auto hash = [&](const char* name) { return hmt::sha256_file((dir / name / "model.safetensors").string()); };
  CHECK(hash("a") == hash("b"));
  CHECK(hash("a") != hash("c"));

  auto experiment = hmt::load_experiment(config, {});
  auto backbone = hmt::load_backbone((dir / "a").string());
  CHECK(backbone->config().vocab_size == experiment.model.vocab_size);
  CHECK(backbone->config().hidden_size == experiment.model.hidden_size);
  CHECK(backbone->config().num_layers == experiment.model.num_layers);

  auto bad = run_hmt("init '" + config + "' model.hidden_size=abc --out '" + (dir / "d").string() + "'");
  CHECK(bad.exit_code == 1);
  CHECK_THAT(bad.err, Catch::Contains("model.hidden_size"));
  CHECK_FALSE(std::filesystem::exists(dir / "d"));
}

TEST_CASE("cli: score prints the NLL of an independent computation", "[cli][score]") {
  auto dir = hmt::test::temp_dir("cli_score");
  hmt::ModelConfig model;
  model.type = std::string("gpt2");
  model.vocab_size = 97;
  model.hidden_size = 32;
  model.num_layers = 2;
  model.num_heads = 4;
  model.max_position_embeddings = 64;
  torch::manual_seed(3);
  auto backbone = hmt::make_backbone(hmt::scratch_backbone_config(model));
  hmt::save_backbone(*backbone, (dir / "model").string());

  std::vector<int32_t> ids;
  for (int i = 0; i < 40; ++i) ids.push_back((i * 37 + 11) % 97);
  auto ids_file = write_text(dir / "doc.ids", ids_text(ids));
  auto result = run_hmt("score '" + (dir / "model").string() + "' --ids '" + ids_file + "' --json");
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  auto json = nlohmann::json::parse(result.out);
  CHECK(json.size() == 3);
  CHECK(json["tokens"] == 39);
  double expected = naive_nll_sum(*backbone, ids);
  CHECK(json["nll_sum"].get<double>() == Approx(expected).epsilon(1e-5));
  CHECK(json["ppl"].get<double>() == Approx(std::exp(expected / 39)).epsilon(1e-5));

  std::vector<int32_t> too_long(65, 1);
  auto long_file = write_text(dir / "long.ids", ids_text(too_long));
  auto error = run_hmt("score '" + (dir / "model").string() + "' --ids '" + long_file + "' --json");
  CHECK(error.exit_code == 1);
  CHECK_THAT(error.err, Catch::Contains("65 tokens") && Catch::Contains("max_position_embeddings"));
  auto oov_file = write_text(dir / "oov.ids", "1 2 97");
  error = run_hmt("score '" + (dir / "model").string() + "' --ids '" + oov_file + "'");
  CHECK(error.exit_code == 1);
  CHECK_THAT(error.err, Catch::Contains("id 97"));
}

TEST_CASE("cli: score a real HF GPT-2 directory", "[cli][score]") {
  HMT_REQUIRE_SHARED("holdout/models/fake_gpt2/model.safetensors");
  auto model_dir = hmt::test::shared_data() / "holdout/models/fake_gpt2";
  auto dir = hmt::test::temp_dir("cli_score_gpt2");
  auto tokenizer = hmt::load_tokenizer((model_dir / "tokenizer.json").string());
  auto ids = tokenizer->encode("The quick brown fox jumps over the lazy dog. It was the best of times.");
  auto ids_file = write_text(dir / "doc.ids", ids_text(ids));
  auto result = run_hmt("score '" + model_dir.string() + "' --ids '" + ids_file + "' --json");
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  auto json = nlohmann::json::parse(result.out);
  CHECK(json["tokens"] == static_cast<int64_t>(ids.size()) - 1);
  auto backbone = hmt::load_backbone(model_dir.string());
  CHECK(json["nll_sum"].get<double>() == Approx(naive_nll_sum(*backbone, ids)).epsilon(1e-5));
}

TEST_CASE("cli: train resolves, prints and saves the config, then needs data.path", "[cli][train]") {
  auto dir = hmt::test::temp_dir("cli_train");
  std::string config = (hmt::test::source_dir() / "configs/demo.yaml").string();
  auto result = run_hmt("train '" + config + "' runtime.run_dir='" + (dir / "run").string() + "' hmt.num_sensory=4");
  CHECK(result.exit_code == 1);
  CHECK_THAT(result.out, Catch::Contains("# resolved config"));
  CHECK_THAT(result.err, Catch::Contains("data.path: empty; training reads a prepared token file"));
  REQUIRE(std::filesystem::exists(dir / "run" / "config.yaml"));
  auto saved = hmt::load_experiment((dir / "run" / "config.yaml").string(), {});
  CHECK(saved.hmt.num_sensory == 4);
  CHECK(hmt::to_yaml(saved) ==
        hmt::to_yaml(hmt::load_experiment(config, {"hmt.num_sensory=4", "runtime.run_dir=" + (dir / "run").string()})));

  auto bad = run_hmt("train '" + config + "' hmt.segment_length=0");
  CHECK(bad.exit_code == 1);
  CHECK_THAT(bad.err, Catch::Contains("hmt.segment_length"));
}
