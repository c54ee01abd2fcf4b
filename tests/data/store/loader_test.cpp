#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>
#include <set>

#include "data/store/loader.h"
#include "data/store/permutation.h"
#include "tests/data/store/store_fixture.h"
#include "tests/test_paths.h"

using hmt::Loader;
using hmt::LoaderOptions;
using hmt::LoaderState;

namespace {

using hmt::test::row;

// Independent expectation: windows of stride+1 ids with stride `stride`,
// inside each numbered document, in document order.
std::vector<std::vector<int64_t>> expected_windows(const std::vector<int64_t>& lengths, int64_t stride) {
  std::vector<std::vector<int64_t>> out;
  for (size_t d = 0; d < lengths.size(); ++d)
    for (int64_t start = 0; start + stride + 1 <= lengths[d]; start += stride) {
      std::vector<int64_t> w;
      for (int64_t i = start; i <= start + stride; ++i) w.push_back(static_cast<int64_t>(d) * 1000 + i);
      out.push_back(w);
    }
  return out;
}

LoaderOptions lm_options(const std::string& path, int64_t s, int64_t l, int64_t b) {
  LoaderOptions o;
  o.path = path;
  o.segments = s;
  o.segment_length = l;
  o.batch_size = b;
  o.seed = 5;
  return o;
}

}  // namespace

TEST_CASE("loader: LM windows of S*L+1 tokens inside documents, in file order", "[data][loader][windows]") {
  auto dir = hmt::test::temp_dir("loader_windows");
  const std::vector<int64_t> lengths = {10, 25, 3, 17, 5};
  auto path = hmt::test::write_lm_store((dir / "d.h5").string(), lengths);
  auto o = lm_options(path, /*s=*/2, /*l=*/2, /*b=*/1);
  o.shuffle = false;
  Loader loader(o);
  auto expected = expected_windows(lengths, 4);
  // floor((n - 1) / 4) per document: 2 + 6 + 0 + 4 + 1.
  REQUIRE(expected.size() == 13);
  REQUIRE(loader.samples_per_epoch() == 13);
  REQUIRE(loader.steps_per_epoch() == 13);
  for (size_t i = 0; i < expected.size(); ++i) {
    auto batch = loader.next();
    REQUIRE(batch.ids.sizes() == torch::IntArrayRef({1, 5}));
    CHECK(batch.trailing_label);
    CHECK(batch.segments == 2);  // the grid travels with the batch
    CHECK(batch.segment_length == 2);
    CHECK(!batch.mask.defined());
    CHECK(!batch.score_mask.defined());
    CHECK(batch.samples == std::vector<int64_t>{static_cast<int64_t>(i)});
    CHECK(row(batch.ids, 0) == expected[i]);
  }
  // Consecutive windows of a document share their boundary token.
  CHECK(expected[0].back() == expected[1].front());
}

TEST_CASE("loader: cross_document windows run over the concatenated split", "[data][loader][windows]") {
  auto dir = hmt::test::temp_dir("loader_cross");
  const std::vector<int64_t> lengths = {10, 25, 3, 17};
  auto o = lm_options(hmt::test::write_lm_store((dir / "d.h5").string(), lengths), 1, 6, 1);
  o.shuffle = false;
  o.cross_document = true;
  Loader loader(o);
  std::vector<int64_t> stream;
  for (size_t d = 0; d < lengths.size(); ++d)
    for (int64_t i = 0; i < lengths[d]; ++i) stream.push_back(static_cast<int64_t>(d) * 1000 + i);
  REQUIRE(loader.samples_per_epoch() == (55 - 1) / 6);
  for (int64_t w = 0; w < loader.samples_per_epoch(); ++w) {
    std::vector<int64_t> want(stream.begin() + w * 6, stream.begin() + w * 6 + 7);
    CHECK(loader.sample(w) == want);
  }
  // Window 1 ([6, 13)) crosses from document 0 into document 1.
  CHECK(loader.sample(1) == std::vector<int64_t>{6, 7, 8, 9, 1000, 1001, 1002});
}

TEST_CASE("loader: W ranks share one permutation, their union is the single-process batch", "[data][loader][shard]") {
  auto dir = hmt::test::temp_dir("loader_shard");
  std::vector<int64_t> lengths(9, 0);
  for (size_t d = 0; d < lengths.size(); ++d) lengths[d] = 20 + 7 * static_cast<int64_t>(d);
  auto path = hmt::test::write_lm_store((dir / "d.h5").string(), lengths);
  const int world = 3;
  const int64_t b = 2;
  auto base = lm_options(path, 1, 4, b);
  std::vector<Loader> ranks;
  for (int r = 0; r < world; ++r) {
    auto o = base;
    o.rank = r;
    o.world = world;
    ranks.emplace_back(o);
  }
  auto single_options = base;
  single_options.batch_size = b * world;
  Loader single(single_options);
  const int64_t n = ranks[0].samples_per_epoch();
  REQUIRE(ranks[0].steps_per_epoch() == n / (b * world));
  REQUIRE(single.steps_per_epoch() == ranks[0].steps_per_epoch());
  for (int64_t epoch = 0; epoch < 2; ++epoch) {
    std::set<int64_t> seen;
    for (int64_t step = 0; step < single.steps_per_epoch(); ++step) {
      auto whole = single.next();
      std::vector<int64_t> joined;
      for (int r = 0; r < world; ++r) {
        auto part = ranks[r].next();
        REQUIRE(part.ids.size(0) == b);
        for (int64_t i = 0; i < b; ++i) {
          CHECK(row(part.ids, i) == row(whole.ids, r * b + i));
          CHECK(seen.insert(part.samples[i]).second);  // no sample twice in an epoch
        }
        joined.insert(joined.end(), part.samples.begin(), part.samples.end());
      }
      CHECK(joined == whole.samples);
    }
    // Every sample but the dropped remainder, each once.
    CHECK(static_cast<int64_t>(seen.size()) == single.steps_per_epoch() * b * world);
    auto order = single.epoch_order(epoch);
    CHECK(std::set<int64_t>(order.begin(), order.begin() + static_cast<int64_t>(seen.size())) == seen);
  }
}

TEST_CASE("loader: the epoch permutation depends on (seed, epoch) only", "[data][loader][shard]") {
  auto a = hmt::epoch_permutation(1000, /*seed=*/1, /*epoch=*/0);
  auto sorted = a;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> identity(1000);
  std::iota(identity.begin(), identity.end(), int64_t{0});
  CHECK(sorted == identity);
  CHECK(a == hmt::epoch_permutation(1000, 1, 0));
  CHECK(a != hmt::epoch_permutation(1000, 1, 1));
  CHECK(a != hmt::epoch_permutation(1000, 2, 0));
  CHECK(a != identity);
  // Every position is reachable: over many seeds element 0 lands everywhere in a small range.
  std::set<int64_t> positions;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    auto p = hmt::epoch_permutation(5, seed, 0);
    positions.insert(std::find(p.begin(), p.end(), 0) - p.begin());
  }
  CHECK(positions.size() == 5);
}

TEST_CASE("loader: restore continues with exactly the next batch, mid-epoch and across epochs",
          "[data][loader][resume]") {
  auto dir = hmt::test::temp_dir("loader_resume");
  auto path = hmt::test::write_lm_store((dir / "d.h5").string(), {40, 33, 61, 18, 27});
  auto o = lm_options(path, 2, 3, 2);
  Loader reference(o);
  const int64_t steps = reference.steps_per_epoch();
  REQUIRE(steps >= 3);
  std::vector<hmt::Batch> uninterrupted;
  std::vector<LoaderState> states;
  for (int64_t i = 0; i < 3 * steps; ++i) {
    states.push_back(reference.state());
    uninterrupted.push_back(reference.next());
  }
  CHECK(states[steps].epoch == 0);  // the last batch of epoch 0 was taken, the next one starts epoch 1
  CHECK(states[steps].step == steps);
  CHECK(uninterrupted[0].samples != uninterrupted[steps].samples);
  for (int64_t cut : {int64_t{1}, steps - 1, steps, steps + 1, 2 * steps}) {
    auto saved = LoaderState::from_json(nlohmann::json::parse(states[cut].to_json().dump()), "checkpoint.json");
    Loader resumed(o);
    resumed.restore(saved);
    for (int64_t i = cut; i < 3 * steps; ++i) {
      auto batch = resumed.next();
      INFO("cut " << cut << " step " << i);
      REQUIRE(batch.samples == uninterrupted[i].samples);
      REQUIRE(torch::equal(batch.ids, uninterrupted[i].ids));
    }
  }
  CHECK(states[steps + 1].to_json().dump() == R"({"epoch":1,"step":1})");
}

TEST_CASE("loader: spread takes n samples evenly over the whole split, in file order", "[data][loader][windows]") {
  auto dir = hmt::test::temp_dir("loader_spread");
  const std::vector<int64_t> lengths = {10, 25, 3, 17, 5};
  auto path = hmt::test::write_lm_store((dir / "d.h5").string(), lengths);
  auto expected = expected_windows(lengths, 4);  // 13 windows
  auto o = lm_options(path, /*s=*/2, /*l=*/2, /*b=*/2);
  o.shuffle = false;
  o.spread = 4;
  Loader loader(o);
  CHECK(loader.samples_per_epoch() == 4);
  CHECK(loader.steps_per_epoch() == 2);
  // floor(i * 13 / 4): windows 0, 3, 6, 9 -- the last document's part included.
  std::vector<int64_t> seen;
  for (int step = 0; step < 2; ++step) {
    auto batch = loader.next();
    for (int64_t r = 0; r < 2; ++r) CHECK(row(batch.ids, r) == expected[static_cast<size_t>(batch.samples[r])]);
    seen.insert(seen.end(), batch.samples.begin(), batch.samples.end());
  }
  CHECK(seen == std::vector<int64_t>{0, 3, 6, 9});
  o.spread = 100;  // more than the split has: every window
  CHECK(Loader(o).samples_per_epoch() == 13);
  o.shuffle = true;
  CHECK_THROWS_WITH(Loader(o), Catch::Contains("needs shuffle false"));
}

TEST_CASE("loader: keep_remainder ends the epoch with the leftover samples, split over the ranks",
          "[data][loader][windows]") {
  auto dir = hmt::test::temp_dir("loader_remainder");
  const std::vector<int64_t> lengths = {10, 25, 3, 17, 5};
  auto path = hmt::test::write_lm_store((dir / "d.h5").string(), lengths);
  auto expected = expected_windows(lengths, 4);  // 13 windows
  // 2 ranks of batch 3: 2 full global steps (12 windows), then 1 left over,
  // which rank 0 takes; rank 1's last batch has no rows.
  std::vector<int64_t> seen;
  for (int rank = 0; rank < 2; ++rank) {
    auto o = lm_options(path, /*s=*/2, /*l=*/2, /*b=*/3);
    o.shuffle = false;
    o.keep_remainder = true;
    o.rank = rank;
    o.world = 2;
    Loader loader(o);
    REQUIRE(loader.steps_per_epoch() == 3);
    for (int step = 0; step < 3; ++step) {
      auto batch = loader.next();
      const auto rows = static_cast<int64_t>(batch.samples.size());
      CHECK(rows == (step < 2 ? 3 : (rank == 0 ? 1 : 0)));
      CHECK(batch.ids.size(0) == rows);
      for (int64_t r = 0; r < rows; ++r) CHECK(row(batch.ids, r) == expected[static_cast<size_t>(batch.samples[r])]);
      seen.insert(seen.end(), batch.samples.begin(), batch.samples.end());
    }
    CHECK(loader.next().samples.size() == 3);  // the next epoch starts whole
  }
  std::sort(seen.begin(), seen.end());
  std::vector<int64_t> all(13);
  std::iota(all.begin(), all.end(), 0);
  CHECK(seen == all);
  // Without it the remainder is dropped; with an even split nothing changes.
  auto o = lm_options(path, /*s=*/2, /*l=*/2, /*b=*/3);
  o.shuffle = false;
  CHECK(Loader(o).steps_per_epoch() == 4);
  o.keep_remainder = true;
  CHECK(Loader(o).steps_per_epoch() == 5);
  o.batch_size = 13;
  CHECK(Loader(o).steps_per_epoch() == 1);
  o.shuffle = true;
  CHECK_THROWS_WITH(Loader(o), Catch::Contains("keep_remainder needs shuffle false"));
}

TEST_CASE("loader: bad loader states and options are clear errors", "[data][loader][errors]") {
  auto dir = hmt::test::temp_dir("loader_errors");
  auto path = hmt::test::write_lm_store((dir / "d.h5").string(), {40, 33});
  CHECK_THROWS_WITH(LoaderState::from_json(nlohmann::json::parse(R"({"epoch": 1})"), "ck/state.json"),
                    "ck/state.json: loader state: `step` is missing");
  CHECK_THROWS_WITH(LoaderState::from_json(nlohmann::json::parse(R"({"epoch": -1, "step": 0})"), "ck/state.json"),
                    "ck/state.json: loader state: `epoch` must be a non-negative integer, got -1");
  Loader loader(lm_options(path, 1, 4, 2));
  CHECK_THROWS_WITH(loader.restore({0, loader.steps_per_epoch() + 1}),
                    Catch::Contains("does not fit this data") && Catch::Contains("steps"));
  CHECK_THROWS_WITH(Loader(lm_options(path, 4, 16, 2)),
                    Catch::Contains("gives 0 samples") && Catch::Contains("65 tokens"));
  auto o = lm_options(path, 1, 4, 1);
  o.tokenizer_fingerprint = "other-fingerprint";
  o.tokenizer_origin = "tokenizer.path model/tokenizer.json";
  CHECK_THROWS_WITH(Loader(o), Catch::Contains("fixture-fingerprint") && Catch::Contains("other-fingerprint") &&
                                   Catch::Contains("model/tokenizer.json") && Catch::Contains("d.h5"));
  o = lm_options(path, 1, 4, 1);
  o.split = "validation";
  CHECK_THROWS_WITH(Loader(o), Catch::Contains("has no split `validation` (it has: train)"));
  o.split = "train";
  o.interleave_len = 3;
  o.dilate_len = 3;
  CHECK_THROWS_WITH(Loader(o), Catch::Contains("set at most one"));
}
