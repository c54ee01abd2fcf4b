// MemoryRecurrence against docs/hmt.md section 3, computed by hand: m_0 is
// hmt.memory, rows without tokens pass their memory through, the sensory
// carry is the last k' columns, and the recall runs (and calls the summary)
// only once a row has an entry, with the softmax of 3.1 over the cache.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <cmath>

#include "model/memory_recurrence.h"
#include "tests/model/hmt_fixtures.h"

namespace hmt {
namespace {

using test::relative_difference;

TEST_CASE("memory recurrence: memory in and out, sensory carry and recall over two rows", "[hmt][recurrence]") {
  torch::NoGradGuard no_grad;
  auto config = test::tiny_hmt_config(/*segment_length=*/4, /*sensory=*/3, /*recall=*/true, /*context=*/2);
  auto model = test::tiny_hmt(Family::Llama, config, torch::kDouble);
  const int64_t d = model->backbone().embed_dim();
  auto init = test::named(*model, "hmt.memory");  // [1, d]
  MemoryRecurrence recurrence(*model, MemoryMode::Hmt, /*batch=*/2);
  CHECK(recurrence.sensory_length() == 3);

  int summaries = 0;
  torch::manual_seed(3);
  auto summary = torch::randn({2, d}, torch::kDouble);
  auto summary_fn = [&] {
    ++summaries;
    return summary;
  };
  auto m0 = recurrence.open(summary_fn);
  CHECK(summaries == 0);  // nothing cached yet
  CHECK(relative_difference(m0, init.expand({2, d})) == 0);
  CHECK_FALSE(recurrence.sensory_ids().defined());

  // Segment 0: row 0 is padding (it starts later), row 1 has tokens.
  auto ids0 = torch::arange(8, torch::kLong).view({2, 4});
  auto mask0 = torch::tensor({0, 0, 0, 0, 1, 1, 1, 1}, torch::kBool).view({2, 4});
  auto out0 = torch::randn({2, d}, torch::kDouble);
  auto passed0 = recurrence.close(out0, ids0, mask0, torch::tensor({false, true}), /*filled_rows=*/1);
  CHECK(relative_difference(passed0[0], init[0]) == 0);
  CHECK(relative_difference(passed0[1], out0[1]) == 0);
  CHECK(torch::equal(recurrence.sensory_ids(), ids0.narrow(/*dim=*/1, 1, 3)));
  CHECK(torch::equal(recurrence.sensory_mask(), mask0.narrow(/*dim=*/1, 1, 3)));

  // Segment 1: row 1 recalls from its one entry (weight 1), row 0 has none
  // and keeps hmt.memory.
  auto m1 = recurrence.open(summary_fn);
  CHECK(summaries == 1);
  CHECK(relative_difference(m1[0], init[0]) == 0);
  CHECK(relative_difference(m1[1], out0[1]) < 1e-12);
  CHECK(recurrence.recall_rows()[0].item<bool>() == false);
  CHECK(recurrence.recall_rows()[1].item<bool>() == true);
  auto out1 = torch::randn({2, d}, torch::kDouble);
  auto ids1 = ids0 + 8;
  recurrence.close(out1, ids1, torch::ones({2, 4}, torch::kBool), torch::tensor({true, true}), /*filled_rows=*/2);

  // Segment 2: both rows recall over entries 0 and 1 (row 0 over entry 1 only).
  auto m2 = recurrence.open(summary_fn);
  CHECK(recurrence.cache().segments() == std::vector<int64_t>{0, 1});
  auto wq = test::named(*model, "hmt.recall.wq.weight"), wk = test::named(*model, "hmt.recall.wk.weight");
  const double scale = std::sqrt(static_cast<double>(config.recall.hidden_dim));
  for (int64_t r = 0; r < 2; ++r) {
    auto q = torch::mv(wq, summary[r]);
    auto k0 = torch::mv(wk, out0[r]), k1 = torch::mv(wk, out1[r]);
    double s0 = torch::dot(q, k0).item<double>() / scale, s1 = torch::dot(q, k1).item<double>() / scale;
    double w0 = r == 0 ? 0.0 : 1.0 / (1.0 + std::exp(s1 - s0));
    auto expected = w0 * out0[r] + (1.0 - w0) * out1[r];
    INFO("row " << r);
    CHECK(relative_difference(m2[r], expected) < 1e-10);
  }
  // The cache keeps N = 2: closing segment 2 evicts segment 0.
  recurrence.close(torch::randn({2, d}, torch::kDouble), ids1 + 8, {}, torch::tensor({true, true}), 2);
  CHECK(recurrence.cache().segments() == std::vector<int64_t>{1, 2});
  CHECK(recurrence.segment() == 3);
}

TEST_CASE("memory recurrence: oracle recall hands a segment the named memory", "[hmt][recurrence]") {
  torch::NoGradGuard no_grad;
  auto config = test::tiny_hmt_config(/*segment_length=*/4, /*sensory=*/0, /*recall=*/true, /*context=*/4);
  auto model = test::tiny_hmt(Family::Llama, config, torch::kDouble);
  const int64_t d = model->backbone().embed_dim();
  MemoryRecurrence recurrence(*model, MemoryMode::Hmt, /*batch=*/2);
  CHECK_THROWS_WITH(recurrence.force_recall(2, {0}), Catch::Contains("one source per row"));
  // Segment 2 of row 0 gets M_0, which row 0 never wrote (padding there):
  // it keeps its learned recall; row 1 gets its M_0.
  recurrence.force_recall(/*segment=*/2, {0, 0});
  torch::manual_seed(5);
  auto summary = torch::randn({2, d}, torch::kDouble);
  auto ids = torch::zeros({2, 4}, torch::kLong);
  std::vector<torch::Tensor> outs;
  for (int64_t n = 0; n < 3; ++n) {
    auto m = recurrence.open([&] { return summary; });
    if (n == 2) {
      CHECK(relative_difference(m[1], outs[0][1]) == 0);
      CHECK(relative_difference(m[0], outs[1][0]) < 1e-12);  // its one valid entry, learned weight 1
      auto w = recurrence.recall_weights();
      CHECK(w[1][0].item<double>() == 1.0);
      CHECK(w[1][1].item<double>() == 0.0);
      CHECK(w[0][1].item<double>() == Approx(1.0));
    }
    outs.push_back(torch::randn({2, d}, torch::kDouble));
    auto filled = n == 0 ? torch::tensor({false, true}) : torch::tensor({true, true});
    recurrence.close(outs.back(), ids, {}, filled, n == 0 ? 1 : 2);
  }
  CHECK_THROWS_WITH(recurrence.force_recall(1, {0, 0}), Catch::Contains("already past"));
  MemoryRecurrence rmt(*model, MemoryMode::Rmt, /*batch=*/1);
  CHECK_THROWS_WITH(rmt.force_recall(1, {0}), Catch::Contains("needs recall"));
}

TEST_CASE("memory recurrence: rmt passes M_{n-1} only, backbone carries nothing", "[hmt][recurrence]") {
  torch::NoGradGuard no_grad;
  auto config = test::tiny_hmt_config(/*segment_length=*/4, /*sensory=*/2, /*recall=*/true, /*context=*/2);
  auto model = test::tiny_hmt(Family::Gpt2, config, torch::kDouble);
  const int64_t d = model->backbone().embed_dim();
  auto never = []() -> torch::Tensor {
    FAIL("the summary must not run");
    return {};
  };
  MemoryRecurrence rmt(*model, MemoryMode::Rmt, /*batch=*/1);
  CHECK(rmt.sensory_length() == 0);
  rmt.open(never);
  auto out = torch::randn({1, d}, torch::kDouble);
  rmt.close(out, torch::zeros({1, 4}, torch::kLong), {});
  CHECK(relative_difference(rmt.open(never), out) == 0);
  CHECK_FALSE(rmt.sensory_ids().defined());

  MemoryRecurrence none(*model, MemoryMode::None, /*batch=*/1);
  CHECK_FALSE(none.has_memory());
  CHECK_FALSE(none.open(never).defined());
  CHECK_FALSE(none.close({}, torch::zeros({1, 4}, torch::kLong), {}).defined());
  CHECK(none.cache().empty());
  CHECK_THROWS_WITH(none.close({}, torch::zeros({1, 4}, torch::kLong), {}), Catch::Contains("no open segment"));
  // Full attention is one window, never a recurrence over segments.
  CHECK_THROWS_WITH(MemoryRecurrence(*model, MemoryMode::Full, /*batch=*/1), Catch::Contains("mode full"));
}

TEST_CASE("memory recurrence: modes by name", "[hmt][recurrence]") {
  CHECK(parse_memory_mode("rmt") == MemoryMode::Rmt);
  CHECK(std::string(memory_mode_name(parse_memory_mode("backbone"))) == "backbone");
  CHECK(std::string(memory_mode_name(parse_memory_mode("full"))) == "full");
  CHECK_THROWS_WITH(parse_memory_mode("memory"), "mode: expected hmt, rmt, backbone or full, got 'memory'");
}

}  // namespace
}  // namespace hmt
