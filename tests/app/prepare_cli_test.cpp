// `hmt prepare` from flags and from a config file, end to end.
#include <catch2/catch.hpp>

#include "data/store/token_store.h"
#include "tests/app/run_command.h"
#include "tests/data/sources/prepare_fixture.h"
#include "tests/test_paths.h"

using hmt::test::run_hmt;

TEST_CASE("cli: prepare from flags writes the file and a second run does nothing", "[cli][data][prepare]") {
  auto dir = hmt::test::temp_dir("cli_prepare");
  const auto out = (dir / "t.h5").string();
  const std::string args = "prepare --dataset text --source '" + (hmt::test::fixtures() / "data/text/folder").string() +
                           "' --tokenizer '" + hmt::test::bytes_tokenizer() + "' --out '" + out + "' --threads 1";
  auto first = run_hmt(args);
  INFO(first.err);
  REQUIRE(first.exit_code == 0);
  CHECK_THAT(first.out, Catch::Contains("train: 3 documents, 34 tokens") && Catch::Contains("wrote " + out));
  CHECK(hmt::TokenStore(out).split("train").documents() == 3);
  auto second = run_hmt(args + " --quiet");
  REQUIRE(second.exit_code == 0);
  CHECK_THAT(second.out, Catch::Contains("up to date"));
  CHECK(second.err.empty());

  auto none = run_hmt("prepare");
  CHECK(none.exit_code == 1);
  CHECK_THAT(none.err, Catch::Contains("give CONFIG, or --dataset, --source, --tokenizer and --out"));
  auto missing = run_hmt("prepare --dataset pg19 --source '" + (dir / "nowhere").string() + "' --tokenizer '" +
                         hmt::test::bytes_tokenizer() + "' --out '" + out + "'");
  CHECK(missing.exit_code == 1);
  CHECK_THAT(missing.err, Catch::Contains("nowhere: no such PG-19 folder"));
}

TEST_CASE("cli: prepare from a config uses data.* and tokenizer.path", "[cli][data][prepare]") {
  auto dir = hmt::test::temp_dir("cli_prepare_config");
  const auto out = (dir / "p.h5").string();
  auto result = run_hmt("prepare '" + (hmt::test::source_dir() / "configs/demo.yaml").string() +
                        "' data.dataset=pg19 data.source='" + (hmt::test::fixtures() / "data/pg19").string() +
                        "' tokenizer.path='" + hmt::test::bytes_tokenizer() + "' data.path='" + out + "'");
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  CHECK_THAT(result.out, Catch::Contains("# resolved config") && Catch::Contains("validation: 1 documents"));
  hmt::TokenStore store(out);  // data.out empty: data.path is written
  CHECK(store.splits() == std::vector<std::string>{"train", "validation", "test"});
  auto bad = run_hmt("prepare '" + (hmt::test::source_dir() / "configs/demo.yaml").string() + "' data.fuse_size=0");
  CHECK(bad.exit_code == 1);
  CHECK_THAT(bad.err, Catch::Contains("data.fuse_size"));
}
