// `hmt generate EXPORT_DIR ...` on small exports written here: the exact
// token budget, stopping at eos, greedy output equal to HmtGenerator on the
// loaded export, seeded sampling, streamed text with a tokenizer, and the
// errors of bad input.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "app/commands/text_io.h"
#include "data/tokenizers/tokenizer.h"
#include "data/sources/utf8_repair.h"
#include "model/hmt_export.h"
#include "model/hmt_generator.h"
#include "model/sampling.h"
#include "model/scratch_config.h"
#include "tests/app/run_command.h"
#include "tests/model/tiny_hmt_model.h"
#include "tests/test_paths.h"

namespace fs = std::filesystem;
using hmt::test::run_hmt;

namespace {

std::string shell_quoted(const fs::path& path) { return "'" + path.string() + "'"; }

using hmt::test::write_text;

std::string write_ids(const fs::path& path, const std::vector<int32_t>& ids) {
  std::string text;
  for (auto id : ids) text += std::to_string(id) + " ";
  return write_text(path, text + "\n");
}

fs::path tiny_export(const fs::path& dir, const std::string& family, bool recall = true) {
  auto path = dir / ("export_" + family);
  hmt::save_hmt_export(*hmt::test::tiny_hmt_model(family, recall), path.string());
  return path;
}

// In-process greedy continuation of the loaded export.
std::vector<int32_t> greedy_here(const fs::path& export_dir, const std::vector<int32_t>& prompt, int64_t count) {
  auto model = hmt::load_hmt_export(export_dir.string());
  hmt::HmtGenerator generator(*model);
  auto logits = generator.feed(std::vector<int64_t>(prompt.begin(), prompt.end()));
  std::vector<int32_t> out;
  for (int64_t i = 0; i < count; ++i) {
    out.push_back(static_cast<int32_t>(hmt::greedy_token(logits)));
    logits = generator.append_generated(out.back());
  }
  return out;
}

std::vector<int32_t> ids_of(const nlohmann::json& json) { return json["ids"].get<std::vector<int32_t>>(); }

const std::vector<int32_t> kPrompt = hmt::test::tiny_document(/*length=*/13);

}  // namespace

TEST_CASE("generate: --max-new-tokens is exact, greedy output equals HmtGenerator on the loaded export",
          "[generate][cli]") {
  for (const std::string family : {"llama", "gpt2", "opt"}) {
    INFO(family);
    auto dir = hmt::test::temp_dir("generate_greedy");
    auto exported = tiny_export(dir, family);
    auto prompt = write_ids(dir / "prompt.ids", kPrompt);
    // 13 prompt tokens + 20 new ones cross the boundaries at 16, 24 and 32 (L = 8).
    auto json_run = run_hmt("generate " + shell_quoted(exported) + " --prompt-ids " + shell_quoted(prompt) +
                            " --greedy --ignore-eos --max-new-tokens 20 --json --threads 1");
    INFO(json_run.err);
    REQUIRE(json_run.exit_code == 0);
    auto json = nlohmann::json::parse(json_run.out);
    CHECK(json["prompt_tokens"] == 13);
    CHECK(json["generated_tokens"] == 20);
    CHECK(json["stop"] == "max_new_tokens");
    CHECK(json["segments"] == 5);  // tokens 0..32 lie in segments 0..4
    CHECK(ids_of(json) == greedy_here(exported, kPrompt, 20));
    auto recomputed = run_hmt("generate " + shell_quoted(exported) + " --prompt-ids " + shell_quoted(prompt) +
                              " --greedy --ignore-eos --max-new-tokens 20 --json --threads 1 --no-kv-cache");
    REQUIRE(recomputed.exit_code == 0);
    CHECK(ids_of(nlohmann::json::parse(recomputed.out)) == ids_of(json));
    CHECK_THAT(json_run.err, Catch::Contains("prompt: 13 tokens in 2 segment(s) of 8") &&
                                 Catch::Contains("generated: 20 tokens") && Catch::Contains("tokens/s"));

    // Streaming without a tokenizer prints the ids; --ids-out writes them.
    auto streamed = run_hmt("generate " + shell_quoted(exported) + " --prompt-ids " + shell_quoted(prompt) +
                            " --greedy --ignore-eos --max-new-tokens 7 --threads 1 --ids-out " +
                            shell_quoted(dir / "out.ids"));
    REQUIRE(streamed.exit_code == 0);
    auto all20 = ids_of(json);
    auto first7 = std::vector<int32_t>(all20.begin(), all20.begin() + 7);
    CHECK(hmt::cli::read_ids((dir / "out.ids").string()) == first7);
    std::string line;
    for (size_t i = 0; i < first7.size(); ++i) line += (i ? " " : "") + std::to_string(first7[i]);
    CHECK(streamed.out == line + "\n");

    auto none = run_hmt("generate " + shell_quoted(exported) + " --prompt-ids " + shell_quoted(prompt) +
                        " --max-new-tokens 0 --json --threads 1");
    REQUIRE(none.exit_code == 0);
    CHECK(nlohmann::json::parse(none.out)["generated_tokens"] == 0);
  }
}

TEST_CASE("generate: sampling is reproducible by --seed and respects the budget", "[generate][cli]") {
  auto dir = hmt::test::temp_dir("generate_seed");
  auto exported = tiny_export(dir, "llama");
  auto prompt = write_ids(dir / "prompt.ids", kPrompt);
  auto sample = [&](const std::string& extra) {
    auto result = run_hmt("generate " + shell_quoted(exported) + " --prompt-ids " + shell_quoted(prompt) +
                          " --ignore-eos --max-new-tokens 15 --json --threads 1 " + extra);
    INFO(result.err);
    REQUIRE(result.exit_code == 0);
    return ids_of(nlohmann::json::parse(result.out));
  };
  auto a = sample("--seed 5 --temperature 1.5");
  CHECK(a.size() == 15);
  CHECK(sample("--seed 5 --temperature 1.5") == a);
  CHECK(sample("--seed 6 --temperature 1.5") != a);
  // top-k 1 is greedy whatever the seed.
  CHECK(sample("--seed 9 --top-k 1") == greedy_here(exported, kPrompt, 15));
}

TEST_CASE("generate: stops at the eos token when the model is forced to emit it", "[generate][cli]") {
  // OPT (config eos_token_id 2): a zero final LayerNorm weight makes every
  // position's output its bias b, and moving embedding row 2 along
  // project_out(b) makes logit 2 larger than the others by about 1000.
  auto model = hmt::test::tiny_hmt_model("opt", /*recall=*/true);
  REQUIRE(model->backbone().config().eos_token_id == 2);
  {
    torch::NoGradGuard no_grad;
    auto params = model->named_parameters();
    params["backbone.model.decoder.final_layer_norm.weight"].zero_();
    auto bias = params["backbone.model.decoder.final_layer_norm.bias"];
    bias.normal_();
    auto direction = torch::linear(bias, params["backbone.model.decoder.project_out.weight"]);
    params["backbone.model.decoder.embed_tokens.weight"][2].add_(direction * (1000.0 / direction.pow(2).sum()));
  }
  auto dir = hmt::test::temp_dir("generate_eos");
  hmt::save_hmt_export(*model, (dir / "export").string());
  auto prompt = write_ids(dir / "prompt.ids", kPrompt);
  const std::string base = "generate " + shell_quoted(dir / "export") + " --prompt-ids " + shell_quoted(prompt) +
                           " --threads 1 ";

  for (const std::string mode : {"--greedy", "--temperature 1.0 --seed 3"}) {
    INFO(mode);
    auto result = run_hmt(base + mode + " --max-new-tokens 50 --json --ids-out " + shell_quoted(dir / "eos.ids"));
    INFO(result.err);
    REQUIRE(result.exit_code == 0);
    auto json = nlohmann::json::parse(result.out);
    CHECK(json["stop"] == "eos");
    CHECK(ids_of(json) == std::vector<int32_t>{2});
    CHECK(hmt::cli::read_ids((dir / "eos.ids").string()) == std::vector<int32_t>{2});
    CHECK_THAT(result.err, Catch::Contains("stopped at eos"));
  }
  // The same model with --ignore-eos runs to the budget.
  auto ignored = run_hmt(base + "--greedy --ignore-eos --max-new-tokens 6 --json");
  REQUIRE(ignored.exit_code == 0);
  CHECK(ids_of(nlohmann::json::parse(ignored.out)) == std::vector<int32_t>(6, 2));
}

TEST_CASE("generate: bad input is an error naming the file or option, exit 1", "[generate][cli]") {
  auto dir = hmt::test::temp_dir("generate_errors");
  auto exported = tiny_export(dir, "gpt2", /*recall=*/false);
  auto prompt = write_ids(dir / "prompt.ids", kPrompt);
  auto outside = write_ids(dir / "outside.ids", {1, 2, 53});
  auto empty = write_text(dir / "empty.ids", "  \n");
  auto text = write_text(dir / "prompt.txt", "hello");
  const std::string x = shell_quoted(exported);
  struct Case {
    std::string args, message;
  };
  const std::vector<Case> cases = {
      {shell_quoted(dir / "absent") + " --prompt-ids " + shell_quoted(prompt), (dir / "absent").string()},
      {x + " --prompt-ids " + shell_quoted(dir / "absent.ids"), "absent.ids"},
      {x + " --prompt-ids " + shell_quoted(outside),
       "outside.ids: token #2 is id 53, outside the model's vocabulary [0, 53)"},
      {x + " --prompt-ids " + shell_quoted(empty), "empty.ids: the prompt is empty"},
      {x + " --prompt " + shell_quoted(text), "a text prompt needs a tokenizer"},
      {x, "exactly one"},
      {x + " --prompt " + shell_quoted(text) + " --prompt-ids " + shell_quoted(prompt), "exactly one"},
      {x + " --prompt-ids " + shell_quoted(prompt) + " --temperature 0", "--temperature must be > 0"},
      {x + " --prompt-ids " + shell_quoted(prompt) + " --top-p 1.5", "--top-p must be in (0, 1]"},
      {x + " --prompt-ids " + shell_quoted(prompt) + " --top-k -3", "--top-k must be >= 0"},
      {x + " --prompt-ids " + shell_quoted(prompt) + " --max-new-tokens -1", "--max-new-tokens must be >= 0"},
      {x + " --prompt-ids " + shell_quoted(prompt) + " --tokenizer " + shell_quoted(dir / "none.json"), "none.json"},
      {x + " --prompt-ids " + shell_quoted(prompt) + " --add-bos", "--add-bos"},
  };
  for (const auto& c : cases) {
    INFO(c.args);
    auto result = run_hmt("generate " + c.args);
    INFO(result.err);
    CHECK(result.exit_code == 1);
    CHECK_THAT(result.err, Catch::Contains(c.message));
  }
}

TEST_CASE("generate: a text prompt streams decoded text, with the tokenizer found in the export",
          "[generate][cli][tokenizer]") {
  HMT_REQUIRE_SHARED("tokenizers/gpt2/tokenizer.json");
  const auto tokenizer_path = hmt::test::shared_data() / "tokenizers/gpt2/tokenizer.json";
  auto tokenizer = hmt::load_tokenizer(tokenizer_path.string());
  hmt::ModelConfig config;
  config.type = "gpt2";
  config.vocab_size = tokenizer->vocab_size();
  config.hidden_size = 16;
  config.num_layers = 1;
  config.num_heads = 2;
  config.max_position_embeddings = 64;
  torch::manual_seed(3);
  auto model = std::make_shared<hmt::HmtModel>(hmt::make_backbone(hmt::scratch_backbone_config(config)),
                                               hmt::test::tiny_hmt_config(/*recall=*/true));
  auto dir = hmt::test::temp_dir("generate_text");
  hmt::save_hmt_export(*model, (dir / "export").string(), tokenizer_path.string());
  auto prompt = write_text(dir / "prompt.txt", "Memory is the treasury and guardian of all things. \xE2\x82\xAC 5");

  for (const std::string& extra : std::vector<std::string>{"", " --tokenizer " + shell_quoted(tokenizer_path)}) {
    auto result = run_hmt("generate " + shell_quoted(dir / "export") + " --prompt " + shell_quoted(prompt) +
                          " --max-new-tokens 40 --ignore-eos --seed 1 --threads 1 --ids-out " +
                          shell_quoted(dir / "out.ids") + extra);
    INFO(result.err);
    REQUIRE(result.exit_code == 0);
    auto ids = hmt::cli::read_ids((dir / "out.ids").string());
    CHECK(ids.size() == 40);
    CHECK(result.out == tokenizer->decode(ids) + "\n");
    auto encoded = tokenizer->encode(hmt::cli::read_file(prompt));
    CHECK_THAT(result.err, Catch::Contains("prompt: " + std::to_string(encoded.size()) + " tokens"));
  }
  auto json = run_hmt("generate " + shell_quoted(dir / "export") + " --prompt " + shell_quoted(prompt) +
                      " --max-new-tokens 10 --ignore-eos --seed 1 --threads 1 --json");
  REQUIRE(json.exit_code == 0);
  auto parsed = nlohmann::json::parse(json.out);
  // JSON carries U+FFFD for bytes that are not UTF-8; compare valid text only.
  std::string decoded = tokenizer->decode(ids_of(parsed));
  if (hmt::repair_utf8(decoded) == 0) CHECK(parsed["text"].get<std::string>() == decoded);
  else CHECK_FALSE(parsed["text"].get<std::string>().empty());
}
