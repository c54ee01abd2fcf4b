#include <catch2/catch.hpp>

#include "core/config.h"
#include "core/config_defaults.h"
#include "core/error.h"
#include "tests/core/config_test_files.h"

using hmt::test::config_fixture;

namespace {

std::string scalar_at(const hmt::ConfigTree& tree, const std::string& key) {
  const hmt::ConfigNode* node = tree.find(key);
  REQUIRE(node != nullptr);
  REQUIRE(node->is_scalar());
  return node->scalar;
}

}  // namespace

TEST_CASE("config compose: values remember file and 1-based line", "[config]") {
  auto tree = hmt::compose_config(config_fixture("exp/self_last.yaml"), {});
  const hmt::ConfigNode* vocab = tree.find("model.vocab_size");
  REQUIRE(vocab != nullptr);
  CHECK(vocab->origin.file == config_fixture("model/small.yaml"));
  CHECK(vocab->origin.line == 2);
  CHECK(vocab->origin.describe() == config_fixture("model/small.yaml") + ":2");
  CHECK(tree.find("hmt.segment_length")->origin.describe() == config_fixture("exp/self_last.yaml") + ":5");
  CHECK(tree.find("defaults") == nullptr);
}

TEST_CASE("config compose: the file's own values come after its defaults unless _self_ says otherwise", "[config]") {
  auto own_last = hmt::compose_config(config_fixture("exp/self_last.yaml"), {});
  CHECK(scalar_at(own_last, "hmt.segment_length") == "32");
  CHECK(scalar_at(own_last, "hmt.num_sensory") == "4");

  auto own_first = hmt::compose_config(config_fixture("exp/self_first.yaml"), {});
  CHECK(scalar_at(own_first, "hmt.segment_length") == "16");
}

TEST_CASE("config compose: a plain entry merges at the top, nested defaults merge under their group", "[config]") {
  auto tree = hmt::compose_config(config_fixture("exp/plain_base.yaml"), {});
  CHECK(scalar_at(tree, "runtime.seed") == "9");           // own value beats base.yaml
  CHECK(scalar_at(tree, "runtime.log_level") == "debug");  // from base.yaml
  // hmt/nested.yaml pulls hmt/recall/small.yaml under hmt.recall, then its
  // own recall.hidden_dim wins.
  CHECK(scalar_at(tree, "hmt.recall.context") == "5");
  CHECK(scalar_at(tree, "hmt.recall.enabled") == "false");
  CHECK(scalar_at(tree, "hmt.recall.hidden_dim") == "12");
  CHECK(tree.find("hmt.recall.context")->origin.describe() == config_fixture("hmt/recall/small.yaml") + ":1");

  auto derived = hmt::compose_config(config_fixture("exp/derived.yaml"), {});
  CHECK(scalar_at(derived, "model.type") == "opt");  // model/base_arch.yaml, relative to the model group
  CHECK(scalar_at(derived, "model.hidden_size") == "96");
}

TEST_CASE("config compose: group=option on the command line replaces the defaults choice", "[config]") {
  auto tree = hmt::compose_config(config_fixture("exp/self_last.yaml"), {"model=other"});
  CHECK(scalar_at(tree, "model.type") == "gpt2");
  CHECK(scalar_at(tree, "model.num_layers") == "3");
  CHECK(tree.find("model.num_layers")->origin.file == config_fixture("model/other.yaml"));

  // A group chosen inside a group file is named by its full path.
  auto nested = hmt::compose_config(config_fixture("exp/plain_base.yaml"), {"hmt/recall=big"});
  CHECK(scalar_at(nested, "hmt.recall.context") == "50");
  CHECK(nested.find("hmt.recall.enabled") == nullptr);
}

TEST_CASE("config compose: a missing group option names the entry, the path tried and the options", "[config]") {
  std::string exp = config_fixture("exp/missing_group.yaml");
  REQUIRE_THROWS_WITH(hmt::compose_config(exp, {}),
                      Catch::Contains(exp + ":3: defaults entry 'model: smal'") &&
                          Catch::Contains(config_fixture("model/smal.yaml") + " does not exist") &&
                          Catch::Contains("did you mean 'small'?") &&
                          Catch::Contains("available options in " + config_fixture("model") +
                                          ": base_arch, cycle_a, cycle_b, derived, other, small"));

  // The same error through a command-line choice says which override chose it.
  REQUIRE_THROWS_WITH(hmt::compose_config(config_fixture("exp/self_last.yaml"), {"model=huge"}),
                      Catch::Contains(config_fixture("exp/self_last.yaml") +
                                      ":2: defaults entry 'model: huge' "
                                      "(chosen by command line override 'model=huge')"));
}

TEST_CASE("config compose: a defaults cycle is an error listing the chain", "[config]") {
  REQUIRE_THROWS_WITH(hmt::compose_config(config_fixture("exp/cycle.yaml"), {}),
                      Catch::Contains(config_fixture("model/cycle_b.yaml") + ":2: defaults cycle: ") &&
                          Catch::Contains(config_fixture("model/cycle_a.yaml") + " -> " +
                                          config_fixture("model/cycle_b.yaml") + " -> " +
                                          config_fixture("model/cycle_a.yaml")));
}

TEST_CASE("config compose: the root is the nearest ancestor named configs", "[config]") {
  CHECK(hmt::config_root("configs/demo.yaml") == "configs");
  CHECK(hmt::config_root("a/configs/exp/x.yaml") == "a/configs");
  CHECK(hmt::config_root("runs/r1/config.yaml") == "runs/r1");
}

TEST_CASE("config compose: YAML errors and duplicate keys name file and line", "[config]") {
  auto dir = hmt::test::temp_dir("config_yaml");
  std::string dup = hmt::test::write_config(dir, "dup.yaml", "hmt:\n  segment_length: 4\n  segment_length: 5\n");
  REQUIRE_THROWS_WITH(hmt::compose_config(dup, {}),
                      Catch::Contains(dup + ":3: duplicate key 'segment_length' (first given at line 2)"));
  std::string bad = hmt::test::write_config(dir, "bad.yaml", "hmt:\n  a: [1, 2\n");
  REQUIRE_THROWS_WITH(hmt::compose_config(bad, {}), Catch::Contains(bad + ":") && Catch::Contains("YAML syntax error"));
  REQUIRE_THROWS_WITH(hmt::compose_config((dir / "absent.yaml").string(), {}),
                      Catch::Contains("absent.yaml: config file does not exist"));
}
