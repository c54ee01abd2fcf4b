// hmt eval's perplexity protocol (docs/hmt.md section 9) on tiny fp64 models
// against direct computations: the naive recurrence of tests/model/naive_hmt.h
// on each window for hmt and rmt mode, hand-built backbone passes for the
// segment-limited backbone mode, and whole documents.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <cmath>

#include "data/store/token_store.h"
#include "eval/perplexity.h"
#include "data/store/token_stream.h"
#include "tests/eval/eval_fixtures.h"
#include "tests/test_paths.h"
#include "tests/model/naive_hmt.h"

namespace {

using hmt::Family;
using hmt::MemoryMode;
using hmt::RunnerOptions;
using hmt::test::tiny_hmt;
using hmt::test::tiny_hmt_config;

constexpr int64_t kVocab = 37;  // tests/model/hmt_fixtures.h's backbone

std::vector<int64_t> slice(const std::vector<int64_t>& v, int64_t from, int64_t to) {
  return std::vector<int64_t>(v.begin() + from, v.begin() + to);
}

// NLL of the last segment of `window` with the backbone alone: the first
// token from the previous segment's last row, the rest from its own rows.
double backbone_last_segment_nll(hmt::Backbone& backbone, const std::vector<int64_t>& window, int64_t L) {
  const auto T = static_cast<int64_t>(window.size());
  auto pass = [&](int64_t from, int64_t to) {
    auto ids = torch::tensor(slice(window, from, to), torch::kLong).unsqueeze(0);
    return torch::log_softmax(backbone.forward(backbone.embed(ids)).logits[0], /*dim=*/-1);
  };
  auto previous = pass(T - 2 * L, T - L);
  auto own = pass(T - L, T);
  double nll = -previous[L - 1][window[T - L]].item<double>();
  for (int64_t t = 1; t < L; ++t) nll -= own[t - 1][window[T - L + t]].item<double>();
  return nll;
}

struct Fixture {
  std::vector<std::vector<int32_t>> docs = hmt::test::pattern_documents({70, 45, 38}, kVocab);
  std::vector<int64_t> stream = hmt::test::concatenated(docs);
  std::string path = hmt::test::write_documents_store((hmt::test::temp_dir("eval_ppl") / "test.h5").string(), docs,
                                                      kVocab);
  // The same documents as the evaluation reads them.
  hmt::TokenStore store{path};
  hmt::DocumentView view{store.split("test"), {}};
  hmt::TokenStream tokens{view};
};

}  // namespace

TEST_CASE("eval: scored segments are spread over the stream, shared by every context, inside it", "[eval]") {
  auto starts = hmt::scored_segment_starts(/*stream_tokens=*/100, /*max_context=*/16, /*segment_length=*/4,
                                           /*windows=*/5);
  REQUIRE(starts.size() == 5);
  CHECK(starts.front() == 16);
  CHECK(starts.back() == 96);  // the last whole segment: [96, 100)
  for (size_t i = 0; i < starts.size(); ++i) {
    CHECK(starts[i] % 4 == 0);
    if (i) CHECK(starts[i] > starts[i - 1]);
  }
  // Fewer candidates than windows: all of them.
  CHECK(hmt::scored_segment_starts(30, 16, 4, 10) == std::vector<int64_t>{16, 20, 24});
  CHECK_THROWS_WITH(hmt::scored_segment_starts(19, 16, 4, 2), Catch::Contains("needs 20"));
  CHECK(hmt::rounded_contexts({0, 4, 5, 13}, 4) == std::vector<int64_t>{4, 4, 8, 16});
  CHECK_THROWS_WITH(hmt::rounded_contexts({-1}, 4), Catch::Contains(">= 0"));
}

TEST_CASE("eval: PPL at context X equals the naive recurrence on every window, in hmt and rmt mode", "[eval]") {
  Fixture f;
  hmt::TokenStream& stream = f.tokens;
  const int64_t L = 4;
  for (Family family : {Family::Llama, Family::Gpt2, Family::Opt}) {
    DYNAMIC_SECTION(hmt::test::family_label(family)) {
      auto model = tiny_hmt(family, tiny_hmt_config(L, /*sensory=*/2, /*recall=*/true, /*context=*/3), torch::kDouble);
      // The same weights (same seed, same draws) configured as RMT: the
      // independent reference of --mode rmt.
      auto rmt = tiny_hmt(family, tiny_hmt_config(L, /*sensory=*/0, /*recall=*/false, /*context=*/3), torch::kDouble);
      hmt::ContextEvalOptions options;
      options.contexts = {8, 13};  // 13 -> 16
      options.windows = 5;
      options.batch = 2;
      for (auto mode : {MemoryMode::Hmt, MemoryMode::Rmt}) {
        options.mode = mode;
        hmt::RecallHistogram histogram;
        auto results = hmt::context_perplexity(*model, stream, options, &histogram);
        REQUIRE(results.size() == 2);
        const auto starts = hmt::scored_segment_starts(static_cast<int64_t>(f.stream.size()), 16, L, 5);
        for (const auto& r : results) {
          double expected = 0;
          for (int64_t p : starts) {
            auto window = slice(f.stream, p - r.context, p + L);
            auto naive = hmt::test::naive_hmt(mode == MemoryMode::Hmt ? *model : *rmt, window);
            expected += naive.segment_nll.back().item<double>();
            CHECK(naive.segment_tokens.back() == L);
          }
          INFO(hmt::memory_mode_name(mode) << " context " << r.context);
          CHECK(r.windows == 5);
          CHECK(r.tokens == 5 * L);
          CHECK(r.nll_sum == Approx(expected).epsilon(1e-10));
          CHECK(r.ppl == Approx(std::exp(expected / (5.0 * L))).epsilon(1e-10));
        }
        CHECK(results[0].context == 8);
        CHECK(results[1].context == 16);
        // More history changes the figure (memory and recall read it).
        CHECK(results[0].nll_sum != Approx(results[1].nll_sum).epsilon(1e-9));
        if (mode == MemoryMode::Hmt) {
          // Every segment after the first of the largest context's windows recalls once.
          CHECK(histogram.total() == 5 * (16 / L));
        } else {
          CHECK(histogram.total() == 0);
        }
      }
    }
  }
}

TEST_CASE("eval: backbone mode scores each segment with the backbone alone, the same at every X", "[eval]") {
  Fixture f;
  hmt::TokenStream& stream = f.tokens;
  const int64_t L = 5;
  auto model = tiny_hmt(Family::Llama, tiny_hmt_config(L, /*sensory=*/2, /*recall=*/true, /*context=*/3),
                        torch::kDouble);
  hmt::ContextEvalOptions options;
  options.contexts = {5, 20};
  options.windows = 4;
  options.batch = 3;
  options.mode = MemoryMode::None;
  auto results = hmt::context_perplexity(*model, stream, options, nullptr);
  const auto starts = hmt::scored_segment_starts(static_cast<int64_t>(f.stream.size()), 20, L, 4);
  double expected = 0;
  for (int64_t p : starts)
    expected += backbone_last_segment_nll(model->backbone(), slice(f.stream, p - 2 * L, p + L), L);
  for (const auto& r : results) {
    CHECK(r.tokens == 4 * L);
    CHECK(r.nll_sum == Approx(expected).epsilon(1e-10));
  }
}

TEST_CASE("eval: full mode scores the segment with the whole window in one backbone pass", "[eval]") {
  Fixture f;
  hmt::TokenStream& stream = f.tokens;
  const int64_t L = 5;
  for (Family family : {Family::Llama, Family::Gpt2}) {
    DYNAMIC_SECTION(hmt::test::family_label(family)) {
      auto model = tiny_hmt(family, tiny_hmt_config(L, /*sensory=*/2, /*recall=*/true, /*context=*/3), torch::kDouble);
      hmt::ContextEvalOptions options{{5, 20}, /*windows=*/4, /*batch=*/3, MemoryMode::Full};
      auto results = hmt::context_perplexity(*model, stream, options, nullptr);
      REQUIRE(results.size() == 2);
      // Independent: log-softmax of one forward over [p - X, p + L), the
      // last L tokens each predicted by the row before it.
      for (const auto& r : results) {
        double expected = 0;
        for (int64_t p : hmt::scored_segment_starts(static_cast<int64_t>(f.stream.size()), 20, L, 4)) {
          const auto window = slice(f.stream, p - r.context, p + L);
          auto ids = torch::tensor(window, torch::kLong).unsqueeze(0);
          auto logp = torch::log_softmax(model->backbone().forward(model->backbone().embed(ids)).logits[0], -1);
          for (int64_t t = r.context; t < r.context + L; ++t) expected -= logp[t - 1][window[t]].item<double>();
        }
        INFO("context " << r.context);
        CHECK(r.tokens == 4 * L);
        CHECK(r.nll_sum == Approx(expected).epsilon(1e-10));
      }
      // The history is read directly, so it changes the figure.
      CHECK(results[0].nll_sum != Approx(results[1].nll_sum).epsilon(1e-9));
      // --score-after (18 -> 20): one context alone scores what the pair scored.
      options.contexts = {5};
      options.score_after = 18;
      auto alone = hmt::context_perplexity(*model, stream, options, nullptr);
      CHECK(alone.front().nll_sum == Approx(results[0].nll_sum).epsilon(1e-12));
      options.score_after = 0;
      CHECK(hmt::context_perplexity(*model, stream, options, nullptr).front().nll_sum !=
            Approx(results[0].nll_sum).epsilon(1e-9));
      // A window longer than the positions the backbone has is refused.
      options.contexts = {40};
      CHECK_THROWS_WITH(hmt::context_perplexity(*model, stream, options, nullptr),
                        Catch::Contains("max_position_embeddings 40"));
    }
  }
}

TEST_CASE("eval: whole documents equal the naive recurrence summed over documents", "[eval]") {
  Fixture f;
  hmt::DocumentView& view = f.view;
  auto model = tiny_hmt(Family::Gpt2,
                        tiny_hmt_config(/*segment_length=*/6, /*sensory=*/2, /*recall=*/true,
                                        /*context=*/2),
                        torch::kDouble);
  hmt::DocumentEvalOptions options;
  options.max_tokens = 40;  // the first document is cut, the others are whole
  auto result = hmt::document_perplexity(*model, view, options, nullptr);
  double expected = 0;
  int64_t tokens = 0;
  for (const auto& doc : f.docs) {
    std::vector<int64_t> ids(doc.begin(), doc.begin() + std::min<size_t>(doc.size(), 40));
    auto naive = hmt::test::naive_hmt(*model, ids);
    expected += naive.nll_sum.item<double>();
    tokens += static_cast<int64_t>(ids.size()) - 1;
  }
  CHECK(result.documents == 3);
  CHECK(result.tokens == tokens);
  CHECK(result.longest == 40);
  CHECK(result.nll_sum == Approx(expected).epsilon(1e-10));
  CHECK(result.ppl == Approx(std::exp(expected / static_cast<double>(tokens))).epsilon(1e-10));
}

TEST_CASE("eval: topic switching evaluates the interleaved documents", "[eval]") {
  Fixture f;
  hmt::TokenStore store(f.path);
  hmt::TransformOptions transform;
  transform.interleave_len = 7;
  hmt::DocumentView view(store.split("test"), transform);
  // Documents 0 and 1 become one: 7 of the first, 7 of the second, ... then
  // the rest of the longer; document 2 stays alone.
  std::vector<int64_t> expected;
  const auto& a = f.docs[0];
  const auto& b = f.docs[1];
  size_t i = 0;
  for (; i < a.size() && i < b.size(); i += 7) {
    for (size_t t = i; t < std::min(a.size(), i + 7); ++t) expected.push_back(a[t]);
    for (size_t t = i; t < std::min(b.size(), i + 7); ++t) expected.push_back(b[t]);
  }
  for (size_t t = i; t < a.size(); ++t) expected.push_back(a[t]);
  for (size_t t = i; t < b.size(); ++t) expected.push_back(b[t]);
  REQUIRE(view.documents() == 2);
  hmt::TokenStream stream(view);
  std::vector<int64_t> got(expected.size());
  stream.read(0, static_cast<int64_t>(expected.size()), got.data());
  CHECK(got == expected);

  auto model = tiny_hmt(Family::Llama, tiny_hmt_config(4, 2, true, 3), torch::kDouble);
  hmt::DocumentEvalOptions options;
  options.max_documents = 1;
  auto result = hmt::document_perplexity(*model, view, options, nullptr);
  CHECK(result.nll_sum == Approx(hmt::test::naive_hmt(*model, expected).nll_sum.item<double>()).epsilon(1e-10));
}
