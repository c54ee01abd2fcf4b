#include <catch2/catch.hpp>

#include "core/config.h"
#include "core/error.h"
#include "tests/core/config_test_files.h"

namespace {

// A valid experiment; each test edits one line and checks that line's error.
const char* kValid = "model:\n"                 // 1
                     "  type: llama\n"          // 2
                     "  vocab_size: 100\n"      // 3
                     "  hidden_size: 64\n"      // 4
                     "  num_layers: 2\n"        // 5
                     "  num_heads: 4\n"         // 6
                     "hmt:\n"                   // 7
                     "  segment_length: 16\n";  // 8

std::string replace(std::string text, const std::string& from, const std::string& to) {
  auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

// Writes the experiment, loads it, and returns the error text ("" if none).
struct Fixture {
  std::string path = (hmt::test::temp_dir("config_schema") / "exp.yaml").string();

  std::string error_of(const std::string& text, const std::vector<std::string>& overrides = {}) {
    hmt::test::write_config(std::filesystem::path(path).parent_path(), "exp.yaml", text);
    try {
      hmt::load_experiment(path, overrides);
    } catch (const hmt::Error& e) {
      return e.what();
    }
    return "";
  }
};

}  // namespace

TEST_CASE("config schema: the valid base experiment loads with defaults filled in", "[config]") {
  Fixture f;
  REQUIRE(f.error_of(kValid).empty());
  auto config = hmt::load_experiment(f.path, {});
  CHECK(config.model.type == "llama");
  CHECK(config.model.hidden_size == 64);
  CHECK(config.model.max_position_embeddings == 2048);
  CHECK(config.model.rope_theta == 10000.0);
  CHECK(config.hmt.segment_length == 16);
  CHECK(config.hmt.num_sensory == 32);
  CHECK(config.hmt.recall.context == 300);
  CHECK(config.runtime.seed == 1234);
  CHECK(config.runtime.device == "cpu");
  CHECK(config.runtime.run_dir == "runs/default");
}

TEST_CASE("config schema: unknown keys name file:line and suggest the nearest key", "[config]") {
  Fixture f;
  CHECK_THAT(f.error_of(std::string(kValid) + "  segment_lenght: 4\n"),
             Catch::Contains(f.path + ":9: hmt.segment_lenght: unknown key; did you mean 'segment_length'?"));
  CHECK_THAT(f.error_of(std::string(kValid) + "tokenizr:\n  path: x\n"),
             Catch::Contains(f.path + ":9: tokenizr: unknown key; did you mean 'tokenizer'?"));
  CHECK_THAT(f.error_of(std::string(kValid) + "  banana: 1\n"),
             Catch::Contains(f.path + ":9: hmt.banana: unknown key; valid keys are: segment_length, num_sensory, "
                                      "sum_fraction, recall"));
}

TEST_CASE("config schema: wrong types name key, file:line and the value", "[config]") {
  Fixture f;
  CHECK_THAT(f.error_of(replace(kValid, "hidden_size: 64", "hidden_size: abc")),
             Catch::Contains(f.path + ":4: model.hidden_size: expected an integer, got 'abc'"));
  CHECK_THAT(f.error_of(replace(kValid, "num_layers: 2", "num_layers: '2'")),
             Catch::Contains(f.path + ":5: model.num_layers: expected an integer, got string '2'"));
  CHECK_THAT(f.error_of(replace(kValid, "num_heads: 4", "num_heads: [4]")),
             Catch::Contains(f.path + ":6: model.num_heads: expected an integer, got a list"));
  CHECK_THAT(f.error_of(std::string(kValid) + "  sum_fraction: half\n"),
             Catch::Contains(f.path + ":9: hmt.sum_fraction: expected a number, got 'half'"));
  CHECK_THAT(f.error_of(std::string(kValid) + "  recall:\n    enabled: yes\n"),
             Catch::Contains(f.path + ":10: hmt.recall.enabled: expected a boolean (true or false), got 'yes'"));
  CHECK_THAT(f.error_of(std::string(kValid) + "tokenizer: nope\n"),
             Catch::Contains(f.path + ":9: tokenizer: expected a mapping, got 'nope'"));
  CHECK_THAT(f.error_of(std::string(kValid) + "runtime:\n  threads: 99999999999999999999\n"),
             Catch::Contains(f.path + ":10: runtime.threads: integer '99999999999999999999' is out of range"));
  CHECK_THAT(f.error_of(std::string(kValid) + "runtime:\n  seed: -1\n"),
             Catch::Contains(f.path + ":10: runtime.seed: expected a non-negative integer, got '-1'"));
  CHECK_THAT(f.error_of(kValid, {"model.dropout=[0.1]"}),
             Catch::Contains("command line override 'model.dropout=[0.1]': model.dropout: expected a number, got a "
                             "list"));
  CHECK_THAT(f.error_of(kValid, {"+model.dropout=[0.1]"}),
             Catch::Contains("command line override '+model.dropout=[0.1]': model.dropout: expected a number, got a "
                             "list"));
}

TEST_CASE("config schema: out-of-range values name the range", "[config]") {
  Fixture f;
  CHECK_THAT(f.error_of(std::string(kValid) + "  sum_fraction: 1.5\n"),
             Catch::Contains(f.path + ":9: hmt.sum_fraction: 1.5 is out of range (0, 1]"));
  CHECK_THAT(f.error_of(std::string(kValid) + "  sum_fraction: 0\n"),
             Catch::Contains(f.path + ":9: hmt.sum_fraction: 0 is out of range (0, 1]"));
  CHECK_THAT(f.error_of(replace(kValid, "num_layers: 2", "num_layers: 0")),
             Catch::Contains(f.path + ":5: model.num_layers: 0 is out of range >= 1"));
  CHECK_THAT(f.error_of(replace(kValid, "segment_length: 16", "segment_length: 2000000")),
             Catch::Contains(f.path + ":8: hmt.segment_length: 2000000 is out of range [1, 1048576]"));
  CHECK_THAT(f.error_of(kValid, {"+model.dropout=1.0"}),
             Catch::Contains("command line override '+model.dropout=1.0': model.dropout: 1.0 is out of range [0, 1)"));
}

TEST_CASE("config schema: a value outside its choices lists them", "[config]") {
  Fixture f;
  CHECK_THAT(f.error_of(replace(kValid, "type: llama", "type: bert")),
             Catch::Contains(f.path + ":2: model.type: 'bert' is not one of llama, gpt2, opt"));
  CHECK_THAT(f.error_of(std::string(kValid) + "runtime:\n  device: tpu\n"),
             Catch::Contains(f.path + ":10: runtime.device: 'tpu' is not one of cpu, cuda"));
}

TEST_CASE("config schema: a missing required key names the experiment file", "[config]") {
  Fixture f;
  CHECK(f.error_of(replace(kValid, "  segment_length: 16\n", "")) ==
        f.path + ": hmt.segment_length: required key is missing");
  CHECK(f.error_of(replace(kValid, "hmt:\n  segment_length: 16\n", "")) ==
        f.path + ": hmt.segment_length: required key is missing");
}

TEST_CASE("config schema: cross-field rules of the model section", "[config]") {
  Fixture f;
  CHECK_THAT(f.error_of(replace(kValid, "model:\n", "model:\n  pretrained: /models/x\n")),
             Catch::Contains(f.path + ":3: model.pretrained, model.type: give exactly one of them, not both"));
  CHECK_THAT(f.error_of("model:\n  dropout: 0.1\nhmt:\n  segment_length: 4\n"),
             Catch::Contains(f.path + ":1: model.pretrained, model.type: give exactly one of them"));
  CHECK_THAT(f.error_of(replace(kValid, "  vocab_size: 100\n", "")),
             Catch::Contains(f.path + ":1: model.vocab_size: required when model.type is given"));
  CHECK_THAT(f.error_of(replace(kValid, "hidden_size: 64", "hidden_size: 66")),
             Catch::Contains(f.path + ":4: model.hidden_size (66) must be divisible by model.num_heads (4)"));
  CHECK_THAT(f.error_of(replace(kValid, "num_heads: 4\n", "num_heads: 4\n  num_kv_heads: 3\n")),
             Catch::Contains(f.path + ":7: model.num_heads (4) must be divisible by model.num_kv_heads (3)"));
  CHECK_THAT(f.error_of(replace(replace(kValid, "num_heads: 4\n", "num_heads: 4\n  num_kv_heads: 2\n"), "llama",
                                "gpt2")),
             Catch::Contains(f.path + ":7: model.num_kv_heads: only llama models have grouped-query attention"));
  CHECK_THAT(f.error_of("model:\n  pretrained: /m\n  hidden_size: 8\nhmt:\n  segment_length: 4\n"),
             Catch::Contains(f.path + ":3: model.hidden_size: not allowed with model.pretrained"));
  CHECK(f.error_of("model:\n  pretrained: /m\nhmt:\n  segment_length: 4\n").empty());
}

TEST_CASE("config schema: every error is reported at once, one per line", "[config]") {
  Fixture f;
  std::string error = f.error_of(replace(replace(kValid, "type: llama", "type: bert"), "segment_length: 16", "x: 1"));
  CHECK(error == f.path + ":2: model.type: 'bert' is not one of llama, gpt2, opt\n" + f.path +
                     ": hmt.segment_length: required key is missing\n" + f.path +
                     ":8: hmt.x: unknown key; valid keys are: segment_length, num_sensory, sum_fraction, recall");
}
