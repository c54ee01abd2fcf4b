// RecallCache against docs/hmt.md sections 3-4: the newest N entries oldest
// first, which rows may be recalled from, and truncation K on read.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <vector>

#include "model/recall_cache.h"

namespace hmt {
namespace {

RecallEntry entry(double value, std::vector<bool> rows, int64_t segment, bool grad = false) {
  const auto batch = static_cast<int64_t>(rows.size());
  auto memory = torch::full({batch, 3}, value, torch::kDouble).requires_grad_(grad);
  auto filled = torch::zeros({batch}, torch::kBool);
  int64_t count = 0;
  for (int64_t r = 0; r < batch; ++r)
    if (rows[r]) {
      filled[r] = true;
      ++count;
    }
  return {memory, filled, count, segment};
}

TEST_CASE("recall cache: keeps the newest N entries, oldest first", "[hmt][recall_cache]") {
  RecallCache cache(/*capacity=*/2);
  CHECK(cache.empty());
  CHECK_FALSE(cache.has_filled());
  for (int64_t i = 0; i < 4; ++i) cache.push(entry(static_cast<double>(i), {true, true}, i));
  CHECK(cache.size() == 2);
  CHECK(cache.segments() == std::vector<int64_t>{2, 3});
  auto memories = cache.memories(/*now=*/4, /*truncate=*/0);
  REQUIRE(memories.sizes() == torch::IntArrayRef({2, 2, 3}));
  CHECK(memories[0][0][0].item<double>() == 2.0);
  CHECK(memories[1][1][2].item<double>() == 3.0);
}

TEST_CASE("recall cache: the mask marks the rows that had tokens, has_filled needs one", "[hmt][recall_cache]") {
  RecallCache cache(/*capacity=*/3);
  cache.push(entry(1.0, {false, false}, 0));
  CHECK_FALSE(cache.has_filled());  // a batch whose rows all start later
  cache.push(entry(2.0, {false, true}, 1));
  CHECK(cache.has_filled());
  auto mask = cache.mask();
  REQUIRE(mask.sizes() == torch::IntArrayRef({2, 2}));
  CHECK(mask[0].any().item<bool>() == false);
  CHECK(mask[1][0].item<bool>() == false);
  CHECK(mask[1][1].item<bool>() == true);

  RecallCache unmasked(/*capacity=*/1);
  unmasked.push({torch::zeros({1, 3}), /*filled=*/{}, /*filled_rows=*/0, /*segment=*/0});
  CHECK(unmasked.has_filled());
  CHECK_FALSE(unmasked.mask().defined());
  CHECK_THROWS_WITH(unmasked.push(entry(1.0, {true}, 1)), Catch::Contains("mixed"));
}

TEST_CASE("recall cache: entries older than K segments are read detached", "[hmt][recall_cache]") {
  RecallCache cache(/*capacity=*/4);
  for (int64_t i = 0; i < 4; ++i) cache.push(entry(1.0 + static_cast<double>(i), {true}, i, /*grad=*/true));
  // At segment 4 with K = 2: entries 0 and 1 (4 - i > 2) carry no gradient.
  cache.memories(/*now=*/4, /*truncate=*/2).sum().backward();
  const auto& e = cache.entries();
  CHECK_FALSE(e[0].memory.grad().defined());
  CHECK_FALSE(e[1].memory.grad().defined());
  REQUIRE(e[2].memory.grad().defined());
  CHECK(e[2].memory.grad().sum().item<double>() == 3.0);
  CHECK(e[3].memory.grad().sum().item<double>() == 3.0);
  // K = 0 keeps every gradient.
  cache.memories(/*now=*/4, /*truncate=*/0).sum().backward();
  CHECK(e[0].memory.grad().defined());
}

}  // namespace
}  // namespace hmt
