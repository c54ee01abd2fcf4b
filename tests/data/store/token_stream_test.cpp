// The concatenated stream of a split's documents (data/store/token_stream.h).
#include <catch2/catch.hpp>

#include "data/store/token_store.h"
#include "data/store/token_stream.h"
#include "tests/eval/eval_fixtures.h"
#include "tests/test_paths.h"

TEST_CASE("token stream: the documents concatenated in file order, reads across boundaries", "[data]") {
  auto docs = hmt::test::pattern_documents({70, 45, 38}, /*vocab=*/37);
  auto expected = hmt::test::concatenated(docs);
  const auto path = hmt::test::write_documents_store((hmt::test::temp_dir("token_stream") / "s.h5").string(), docs, 37);
  hmt::TokenStore store(path);
  hmt::DocumentView view(store.split("test"), {});
  hmt::TokenStream stream(view);
  REQUIRE(stream.size() == static_cast<int64_t>(expected.size()));
  std::vector<int64_t> got(60);
  stream.read(/*begin=*/40, /*count=*/60, got.data());  // crosses both boundaries (70, 115)
  CHECK(got == std::vector<int64_t>(expected.begin() + 40, expected.begin() + 100));
  std::vector<int64_t> all(expected.size());
  stream.read(0, stream.size(), all.data());
  CHECK(all == expected);
  CHECK_THROWS_WITH(stream.read(150, 10, got.data()), Catch::Contains("outside"));
}
