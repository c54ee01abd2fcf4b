#include <catch2/catch.hpp>

#include "core/config.h"
#include "data/sources/prepare.h"
#include "tests/test_paths.h"

namespace {
std::string demo() { return (hmt::test::source_dir() / "configs/demo.yaml").string(); }
}  // namespace

TEST_CASE("data config: the data groups map onto prepare options", "[data][config]") {
  auto pubmed = hmt::load_experiment(demo(), {"data=pubmedqa", "data.source=/d/ori_pqal.json", "tokenizer.path=/t.json",
                                              "runtime.threads=3"});
  auto o = hmt::prepare_options(pubmed);
  CHECK(o.dataset == "pubmedqa");
  CHECK(o.source == "/d/ori_pqal.json");
  CHECK(o.tokenizer == "/t.json");
  CHECK(o.out == "data/pubmedqa.h5");
  CHECK(o.splits == std::vector<std::string>{"train", "validation", "test"});
  CHECK(o.split_fractions == std::vector<double>{0.75, 0.15, 0.1});
  CHECK(o.fuse_size == 2);
  CHECK(o.threads == 3);
  auto pg19 = hmt::load_experiment(demo(), {"data=pg19", "data.out=", "data.path=/p.h5"});
  CHECK(hmt::prepare_options(pg19).out == "/p.h5");  // data.out empty: data.path
  CHECK_THROWS_WITH(hmt::prepare_options(hmt::load_experiment(demo(), {})),
                    Catch::Contains("data.dataset: required by hmt prepare"));
}

TEST_CASE("data config: cross-key rules name the keys", "[data][config][errors]") {
  CHECK_THROWS_WITH(hmt::load_experiment(demo(), {"data.interleave_len=10", "data.dilate_len=10"}),
                    Catch::Contains("data.interleave_len, data.dilate_len: set at most one"));
  CHECK_THROWS_WITH(hmt::load_experiment(demo(), {"data.splits=[a,b]", "data.split_fractions=[0.5,0.4]"}),
                    Catch::Contains("data.split_fractions: needs one fraction per entry of data.splits") &&
                        Catch::Contains("they sum to 0.9"));
  CHECK_THROWS_WITH(hmt::load_experiment(demo(), {"data.dataset=books"}), Catch::Contains("data.dataset"));
}
