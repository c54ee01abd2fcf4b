#include <catch2/catch.hpp>

#include "core/config.h"
#include "core/config_overrides.h"
#include "core/error.h"
#include "tests/core/config_test_files.h"

using hmt::test::config_fixture;

namespace {
const std::string kExperiment = config_fixture("exp/self_last.yaml");
}

TEST_CASE("config overrides: a.b=value replaces an existing key with a typed YAML value", "[config]") {
  auto tree = hmt::compose_config(kExperiment, {"hmt.segment_length=48", "model.type='gpt2'", "+vars.list=[1, 2]"});
  const hmt::ConfigNode* length = tree.find("hmt.segment_length");
  CHECK(length->scalar == "48");
  CHECK_FALSE(length->quoted);
  CHECK(length->origin.describe() == "command line override 'hmt.segment_length=48'");
  CHECK(tree.find("model.type")->quoted);
  CHECK(tree.find("vars.list")->is_sequence());
  CHECK(tree.find("vars.list")->items.size() == 2);

  auto config = hmt::load_experiment(kExperiment, {"hmt.segment_length=48", "+model.tie_word_embeddings=false"});
  CHECK(config.hmt.segment_length == 48);
  CHECK_FALSE(config.model.tie_word_embeddings);
}

TEST_CASE("config overrides: a.b=value on a missing key tells the user to add it with +", "[config]") {
  REQUIRE_THROWS_WITH(hmt::compose_config(kExperiment, {"hmt.num_sensori=3"}),
                      Catch::Contains("command line override 'hmt.num_sensori=3': key hmt.num_sensori does not exist "
                                      "(did you mean 'hmt.num_sensory'?); use +hmt.num_sensori=3 to add a key"));
}

TEST_CASE("config overrides: a.b=value sets a schema key that no file spells out", "[config]") {
  REQUIRE_THROWS_WITH(hmt::compose_config(kExperiment, {"model.dropout=0.25"}), Catch::Contains("does not exist"));
  auto config = hmt::load_experiment(kExperiment, {"model.dropout=0.25"});
  CHECK(config.model.dropout == 0.25);
  // A typo is still an error, not a silently added key.
  REQUIRE_THROWS_WITH(hmt::load_experiment(kExperiment, {"model.dropuot=0.25"}),
                      Catch::Contains("key model.dropuot does not exist"));
}

TEST_CASE("config overrides: +a.b=value adds a key, and refuses an existing one", "[config]") {
  auto tree = hmt::compose_config(kExperiment, {"+runtime.seed=5"});
  CHECK(tree.find("runtime.seed")->scalar == "5");
  CHECK(hmt::load_experiment(kExperiment, {"+runtime.seed=5"}).runtime.seed == 5);

  REQUIRE_THROWS_WITH(hmt::compose_config(kExperiment, {"+hmt.segment_length=8"}),
                      Catch::Contains("command line override '+hmt.segment_length=8': key hmt.segment_length already "
                                      "exists (" +
                                      kExperiment + ":5); use hmt.segment_length=8 to change it"));
}

TEST_CASE("config overrides: ~a.b deletes a key, and a missing one is an error", "[config]") {
  auto tree = hmt::compose_config(kExperiment, {"~hmt.num_sensory"});
  CHECK(tree.find("hmt.num_sensory") == nullptr);
  CHECK(hmt::load_experiment(kExperiment, {"~hmt.num_sensory"}).hmt.num_sensory == 32);  // back to the default

  REQUIRE_THROWS_WITH(hmt::compose_config(kExperiment, {"~hmt.nothing"}),
                      Catch::Contains("command line override '~hmt.nothing': cannot delete key hmt.nothing: it does "
                                      "not exist"));
}

TEST_CASE("config overrides: malformed overrides are rejected with the text", "[config]") {
  REQUIRE_THROWS_WITH(hmt::parse_override("hmt.segment_length"),
                      Catch::Contains("command line override 'hmt.segment_length': expected key=value"));
  REQUIRE_THROWS_WITH(hmt::parse_override("a..b=1"), Catch::Contains("'a..b' is not a valid key"));
  REQUIRE_THROWS_WITH(hmt::compose_config(kExperiment, {"hmt.segment_length=[1"}),
                      Catch::Contains("command line override 'hmt.segment_length=[1': cannot parse the value as YAML"));
  auto empty = hmt::compose_config(kExperiment, {"model.type="});
  CHECK(empty.find("model.type")->scalar.empty());
  CHECK(empty.find("model.type")->quoted);
}

TEST_CASE("config overrides: later overrides see earlier ones", "[config]") {
  auto tree = hmt::compose_config(kExperiment, {"+vars.x=1", "vars.x=2", "~vars.x", "+vars.x=3"});
  CHECK(tree.find("vars.x")->scalar == "3");
}
