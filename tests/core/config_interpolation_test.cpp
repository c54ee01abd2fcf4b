#include <catch2/catch.hpp>

#include <cstdlib>

#include "core/config.h"
#include "core/error.h"
#include "tests/core/config_test_files.h"

using hmt::test::config_fixture;

namespace {

// Sets the variables exp/interpolation.yaml reads, for one test's scope.
struct InterpolationEnv {
  InterpolationEnv() {
    ::setenv("HMT_CONFIG_TEST_TOKENIZER", "/tmp/tok.model", /*overwrite=*/1);
    ::unsetenv("HMT_CONFIG_TEST_SEED");
  }
  ~InterpolationEnv() { ::unsetenv("HMT_CONFIG_TEST_TOKENIZER"); }
};

}  // namespace

TEST_CASE("config interpolation: ${a.b} alone copies the node with its type, nested references resolve", "[config]") {
  InterpolationEnv env;
  auto tree = hmt::compose_config(config_fixture("exp/interpolation.yaml"), {});
  const hmt::ConfigNode* hidden = tree.find("model.hidden_size");
  CHECK(hidden->scalar == "128");  // model.hidden_size -> vars.alias -> vars.width
  CHECK_FALSE(hidden->quoted);
  CHECK(hidden->origin.describe() == config_fixture("exp/interpolation.yaml") + ":10");
  const hmt::ConfigNode* copy = tree.find("lists.copy");
  REQUIRE(copy->is_sequence());
  CHECK(copy->items.at(1).scalar == "2");
}

TEST_CASE("config interpolation: ${...} inside text becomes the scalar's text, escaped ${ is literal", "[config]") {
  InterpolationEnv env;
  auto tree = hmt::compose_config(config_fixture("exp/interpolation.yaml"), {});
  CHECK(tree.find("runtime.run_dir")->scalar == "runs/tiny-128");
  CHECK(tree.find("runtime.run_dir")->quoted);
  CHECK(tree.find("lists.literal")->scalar == "price ${vars.width}");
}

TEST_CASE("config interpolation: ${env:NAME} and ${env:NAME,default}", "[config]") {
  InterpolationEnv env;
  auto tree = hmt::compose_config(config_fixture("exp/interpolation.yaml"), {});
  CHECK(tree.find("runtime.seed")->scalar == "42");
  CHECK(tree.find("tokenizer.path")->scalar == "/tmp/tok.model");

  ::setenv("HMT_CONFIG_TEST_SEED", "77", /*overwrite=*/1);
  auto with_seed = hmt::compose_config(config_fixture("exp/interpolation.yaml"), {});
  ::unsetenv("HMT_CONFIG_TEST_SEED");
  CHECK(with_seed.find("runtime.seed")->scalar == "77");

  ::unsetenv("HMT_CONFIG_TEST_TOKENIZER");
  REQUIRE_THROWS_WITH(hmt::compose_config(config_fixture("exp/interpolation.yaml"), {}),
                      Catch::Contains(config_fixture("exp/interpolation.yaml") +
                                      ":15: tokenizer.path: interpolation ${env:HMT_CONFIG_TEST_TOKENIZER}: "
                                      "environment variable HMT_CONFIG_TEST_TOKENIZER is not set"));
}

TEST_CASE("config interpolation: a missing reference names key, origin and reference", "[config]") {
  std::string exp = config_fixture("exp/interp_missing.yaml");
  REQUIRE_THROWS_WITH(hmt::compose_config(exp, {}),
                      Catch::Contains(exp + ":4: runtime.run_dir: interpolation ${vars.nme}: key vars.nme does not "
                                            "exist"));
  REQUIRE_THROWS_WITH(hmt::compose_config(config_fixture("exp/self_last.yaml"), {"+x.y=${x.z}"}),
                      Catch::Contains("command line override '+x.y=${x.z}': x.y: interpolation ${x.z}: key x.z does "
                                      "not exist"));
}

TEST_CASE("config interpolation: a cycle is an error listing the keys", "[config]") {
  std::string exp = config_fixture("exp/interp_cycle.yaml");
  REQUIRE_THROWS_WITH(hmt::compose_config(exp, {}), Catch::Contains(exp + ":3: a: interpolation cycle: a -> b.c -> a"));
}

TEST_CASE("config interpolation: overrides are interpolated after they are applied", "[config]") {
  auto tree = hmt::compose_config(config_fixture("exp/self_last.yaml"),
                                  {"hmt.segment_length=40", "hmt.num_sensory=${hmt.segment_length}",
                                   "+runtime.run_dir=runs/L${hmt.num_sensory}"});
  auto config = hmt::parse_experiment(tree);
  CHECK(config.hmt.num_sensory == 40);
  CHECK(config.runtime.run_dir == "runs/L40");
}
