#include <catch2/catch.hpp>

#include "data/store/loader.h"
#include "data/store/token_store.h"
#include "data/store/transforms.h"
#include "tests/data/store/store_fixture.h"
#include "tests/test_paths.h"

namespace {

using Ids = std::vector<int64_t>;

Ids numbered(int64_t doc, int64_t length) {
  Ids ids;
  for (int64_t i = 0; i < length; ++i) ids.push_back(doc * 1000 + i);
  return ids;
}

// The official topic-switching rule, written as a plain loop: alternate c
// tokens of each while both have some at the current offset, then the rests.
Ids naive_interleave(const Ids& first, const Ids& second, size_t c) {
  Ids out;
  size_t j = 0;
  while (j < first.size() && j < second.size()) {
    for (size_t i = j; i < std::min(j + c, first.size()); ++i) out.push_back(first[i]);
    for (size_t i = j; i < std::min(j + c, second.size()); ++i) out.push_back(second[i]);
    j += c;
  }
  for (size_t i = j; i < first.size(); ++i) out.push_back(first[i]);
  for (size_t i = j; i < second.size(); ++i) out.push_back(second[i]);
  return out;
}

// The official dilation rule: after every block of d tokens (the last may be
// shorter) d filler tokens.
Ids naive_dilate(const Ids& doc, size_t d, int64_t filler) {
  Ids out;
  for (size_t i = 0; i < doc.size(); i += d) {
    for (size_t k = i; k < std::min(i + d, doc.size()); ++k) out.push_back(doc[k]);
    for (size_t k = 0; k < d; ++k) out.push_back(filler);
  }
  return out;
}

Ids view_read(const hmt::DocumentView& view, int64_t doc, int64_t begin, int64_t count) {
  Ids out(static_cast<size_t>(count));
  view.read(doc, begin, count, out.data());
  return out;
}

// Every sub-range of every transformed document equals the naive result.
void check_all_ranges(const hmt::DocumentView& view, const std::vector<Ids>& expected) {
  REQUIRE(view.documents() == static_cast<int64_t>(expected.size()));
  for (size_t d = 0; d < expected.size(); ++d) {
    const auto n = static_cast<int64_t>(expected[d].size());
    REQUIRE(view.length(static_cast<int64_t>(d)) == n);
    for (int64_t begin = 0; begin <= n; ++begin)
      for (int64_t end = begin; end <= n; ++end) {
        Ids want(expected[d].begin() + begin, expected[d].begin() + end);
        INFO("doc " << d << " [" << begin << ", " << end << ")");
        REQUIRE(view_read(view, static_cast<int64_t>(d), begin, end - begin) == want);
      }
  }
}

}  // namespace

TEST_CASE("transforms: topic switching interleaves documents 2k and 2k+1", "[data][transforms]") {
  auto dir = hmt::test::temp_dir("transforms_interleave");
  // Pairs: first longer, second longer, equal lengths with a short last round; an odd last document.
  const std::vector<int64_t> lengths = {11, 5, 4, 13, 6, 6, 9};
  hmt::TokenStore store(hmt::test::write_lm_store((dir / "d.h5").string(), lengths));
  for (int64_t c : {1, 3, 4, 20}) {
    hmt::DocumentView view(store.split("train"), {/*interleave_len=*/c, /*dilate_len=*/0, /*filler_id=*/-1});
    std::vector<Ids> expected;
    for (size_t d = 0; d + 1 < lengths.size(); d += 2)
      expected.push_back(naive_interleave(numbered(d, lengths[d]), numbered(d + 1, lengths[d + 1]), c));
    expected.push_back(numbered(6, 9));
    INFO("interleave_len " << c);
    check_all_ranges(view, expected);
  }
  // A spot value by hand: c = 3, documents 0 (11 tokens) and 1 (5 tokens).
  hmt::DocumentView view(store.split("train"), {3, 0, -1});
  CHECK(view_read(view, 0, 0, 16) == Ids{0, 1, 2, 1000, 1001, 1002, 3, 4, 5, 1003, 1004, 6, 7, 8, 9, 10});
}

TEST_CASE("transforms: dilation inserts d fillers after every d tokens", "[data][transforms]") {
  auto dir = hmt::test::temp_dir("transforms_dilate");
  const std::vector<int64_t> lengths = {7, 1, 8, 12};
  hmt::TokenStore store(hmt::test::write_lm_store((dir / "d.h5").string(), lengths));
  for (int64_t d : {1, 2, 4, 9}) {
    hmt::DocumentView view(store.split("train"), {0, d, /*filler_id=*/42});
    std::vector<Ids> expected;
    for (size_t i = 0; i < lengths.size(); ++i) expected.push_back(naive_dilate(numbered(i, lengths[i]), d, 42));
    INFO("dilate_len " << d);
    check_all_ranges(view, expected);
  }
  hmt::DocumentView view(store.split("train"), {0, 3, 42});
  CHECK(view_read(view, 0, 0, 13) == Ids{0, 1, 2, 42, 42, 42, 3, 4, 5, 42, 42, 42, 6});
}

TEST_CASE("transforms: the loader cuts windows from the transformed documents", "[data][transforms][loader]") {
  auto dir = hmt::test::temp_dir("transforms_loader");
  const std::vector<int64_t> lengths = {11, 5, 9};
  auto path = hmt::test::write_lm_store((dir / "d.h5").string(), lengths);
  hmt::LoaderOptions o;
  o.path = path;
  o.segments = 1;
  o.segment_length = 4;
  o.shuffle = false;
  o.dilate_len = 2;  // the file's filler id (77777) fills
  hmt::Loader dilated(o);
  std::vector<Ids> docs;
  for (size_t i = 0; i < lengths.size(); ++i) docs.push_back(naive_dilate(numbered(i, lengths[i]), 2, 77777));
  std::vector<Ids> windows;
  for (const auto& doc : docs)
    for (size_t s = 0; s + 5 <= doc.size(); s += 4) windows.emplace_back(doc.begin() + s, doc.begin() + s + 5);
  REQUIRE(dilated.samples_per_epoch() == static_cast<int64_t>(windows.size()));
  for (size_t w = 0; w < windows.size(); ++w) CHECK(dilated.sample(static_cast<int64_t>(w)) == windows[w]);

  o.dilate_len = 0;
  o.interleave_len = 2;
  o.cross_document = true;
  hmt::Loader mixed(o);
  Ids stream = naive_interleave(numbered(0, 11), numbered(1, 5), 2);
  for (int64_t i = 0; i < 9; ++i) stream.push_back(2000 + i);
  REQUIRE(mixed.samples_per_epoch() == (25 - 1) / 4);
  for (int64_t w = 0; w < mixed.samples_per_epoch(); ++w)
    CHECK(mixed.sample(w) == Ids(stream.begin() + 4 * w, stream.begin() + 4 * w + 5));
}
