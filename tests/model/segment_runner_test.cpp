// run_segments against docs/hmt.md section 3: an independent recurrence, the
// plain backbone for one segment, the cache window, sensory tokens, left
// padding, loss scopes and the processed-token count.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <vector>

#include "tests/model/hmt_fixtures.h"
#include "tests/model/naive_hmt.h"
#include "model/segment_runner.h"

namespace hmt {
namespace {

using test::relative_difference;

const Family kFamilies[] = {Family::Llama, Family::Gpt2, Family::Opt};

TEST_CASE("segment runner: one segment without recall is the backbone over [memory, x, memory]",
          "[hmt][segment_runner]") {
  for (Family family : kFamilies) {
    INFO(test::family_label(family));
    auto config = test::tiny_hmt_config(/*segment_length=*/8, /*sensory=*/0, /*recall=*/false, /*context=*/2);
    auto model = test::tiny_hmt(family, config, torch::kDouble);
    auto ids = test::random_ids(/*rows=*/1, /*length=*/7, /*vocab=*/37, /*seed=*/21);
    auto run = run_segments(*model, ids, {}, {}, {});

    auto& backbone = model->backbone();
    auto memory = test::named(*model, "hmt.memory").unsqueeze(0);
    auto logits = backbone.forward(torch::cat({memory, backbone.embed(ids), memory}, /*dim=*/1)).logits[0];
    auto log_probs = logits - logits.exp().sum(/*dim=*/-1, /*keepdim=*/true).log();
    double expected = 0;
    for (int64_t t = 1; t < 7; ++t) expected -= log_probs[t][ids[0][t].item<int64_t>()].item<double>();
    CHECK(run.tokens == 6);
    REQUIRE(run.segments.size() == 1);
    CHECK(run.segments[0].tokens == 6);
    CHECK(run.nll_sum.item<double>() == Approx(expected).epsilon(1e-12));
    CHECK(run.loss.item<double>() == Approx(expected / 6).epsilon(1e-12));
    CHECK(run.processed_tokens == 2 + 7);
  }
}

TEST_CASE("segment runner: per-segment NLL equals an independent recurrence (S = 4, recall, k = 3, N = 2)",
          "[hmt][segment_runner]") {
  for (Family family : kFamilies) {
    INFO(test::family_label(family));
    auto config = test::tiny_hmt_config(/*segment_length=*/5, /*sensory=*/3, /*recall=*/true, /*context=*/2);
    auto model = test::tiny_hmt(family, config, torch::kDouble);
    auto ids = test::random_ids(/*rows=*/1, /*length=*/18, /*vocab=*/37, /*seed=*/22);  // last segment: 3 tokens
    auto run = run_segments(*model, ids, {}, {}, {});
    auto naive = test::naive_hmt(*model, test::to_vector(ids[0]));
    REQUIRE(run.segments.size() == 4);
    for (size_t n = 0; n < 4; ++n) {
      INFO("segment " << n);
      CHECK(run.segments[n].tokens == naive.segment_tokens[n]);
      CHECK(run.segments[n].nll_sum == Approx(naive.segment_nll[n].item<double>()).epsilon(1e-10));
    }
    CHECK(std::vector<int64_t>{4, 5, 5, 3} == naive.segment_tokens);
    // Segment passes 2 + sensory + content; summary passes 2 + j (j = 2).
    CHECK(run.processed_tokens == (2 + 5) + (2 + 3 + 5 + 2 + 2) + (2 + 3 + 5 + 2 + 2) + (2 + 3 + 3 + 2 + 2));
  }
}

TEST_CASE("segment runner: the recall cache holds exactly the newest N memory embeddings", "[hmt][segment_runner]") {
  auto config = test::tiny_hmt_config(/*segment_length=*/4, /*sensory=*/1, /*recall=*/true, /*context=*/2);
  auto model = test::tiny_hmt(Family::Llama, config, torch::kDouble);
  auto ids = test::random_ids(/*rows=*/1, /*length=*/20, /*vocab=*/37, /*seed=*/23);
  std::vector<SegmentTrace> traces;
  RunnerOptions options;
  options.trace = [&](const SegmentTrace& t) { traces.push_back(t); };
  run_segments(*model, ids, {}, {}, options);
  REQUIRE(traces.size() == 5);
  const std::vector<std::vector<int64_t>> expected{{}, {0}, {0, 1}, {1, 2}, {2, 3}};
  for (size_t n = 0; n < 5; ++n) CHECK(traces[n].cache_segments == expected[n]);
  CHECK(model->last_recall_weights().sizes() == torch::IntArrayRef{1, 2});

  // One cached entry: the softmax weight is 1, so m_1 = M_0.
  CHECK(relative_difference(traces[1].memory_in, traces[0].memory_out) < 1e-12);
  // m_4 is recall over M_2 and M_3 only.
  SegmentTokens last{ids.slice(/*dim=*/1, 16, 20), {}, {}, {}};
  auto cache = torch::stack({traces[2].memory_out, traces[3].memory_out}, /*dim=*/1);
  torch::NoGradGuard no_grad;
  auto expected_m4 = model->recall(model->summary_pass(last), cache);
  CHECK(relative_difference(traces[4].memory_in, expected_m4) < 1e-10);
  auto with_m1 = model->recall(model->summary_pass(last),
                               torch::stack({traces[1].memory_out, cache[0][0].unsqueeze(0), cache[0][1].unsqueeze(0)},
                                            /*dim=*/1));
  CHECK(relative_difference(traces[4].memory_in, with_m1) > 1e-6);
}

TEST_CASE("segment runner: sensory tokens are the last k ids of the previous segment", "[hmt][segment_runner]") {
  // k = 2 < L, and k = 6 > L = 4 (then all of the previous segment).
  for (int64_t k : {2, 6}) {
    INFO("k = " << k);
    auto config = test::tiny_hmt_config(/*segment_length=*/4, k, /*recall=*/false, /*context=*/2);
    auto model = test::tiny_hmt(Family::Gpt2, config, torch::kDouble);
    auto ids = test::random_ids(/*rows=*/1, /*length=*/8, /*vocab=*/37, /*seed=*/24);
    std::vector<SegmentTrace> traces;
    RunnerOptions options;
    options.trace = [&](const SegmentTrace& t) { traces.push_back(t); };
    run_segments(*model, ids, {}, {}, options);
    REQUIRE(traces.size() == 2);
    const int64_t used = std::min<int64_t>(k, 4);
    auto segment1 = ids.slice(/*dim=*/1, 4, 8);
    auto expected = model->segment_pass(traces[1].memory_in, {segment1, {}, ids.slice(/*dim=*/1, 4 - used, 4), {}});
    CHECK(relative_difference(traces[1].memory_out, expected.memory_out) < 1e-10);
    auto first_ids = model->segment_pass(traces[1].memory_in, {segment1, {}, ids.slice(/*dim=*/1, 0, used), {}});
    if (used < 4) CHECK(relative_difference(traces[1].memory_out, first_ids.memory_out) > 1e-6);
    auto none = model->segment_pass(traces[1].memory_in, {segment1, {}, {}, {}});
    CHECK(relative_difference(traces[1].memory_out, none.memory_out) > 1e-6);
  }
}

// Rows of lengths 3, 6 and 11 with L = 4 need 1, 2 and 3 segments.
TEST_CASE("segment runner: left-padded rows score as the same rows run alone", "[hmt][segment_runner]") {
  const std::vector<int64_t> lengths{3, 6, 11};
  const int64_t T = 11;
  for (Family family : kFamilies) {
    for (auto dtype : {torch::kFloat, torch::kDouble}) {
      const double tolerance = dtype == torch::kFloat ? 1e-5 : 1e-10;
      for (bool answers_only : {false, true}) {
        INFO(test::family_label(family) << (dtype == torch::kFloat ? " fp32" : " fp64")
                                        << (answers_only ? " scoring the last 2 tokens" : " scoring all"));
        auto config = test::tiny_hmt_config(/*segment_length=*/4, /*sensory=*/2, /*recall=*/true, /*context=*/2);
        auto model = test::tiny_hmt(family, config, dtype);
        auto ids = test::random_ids(/*rows=*/3, T, /*vocab=*/37, /*seed=*/25);
        auto mask = torch::zeros({3, T}, torch::kLong);
        auto score = torch::zeros({3, T}, torch::kLong);
        for (int64_t r = 0; r < 3; ++r) {
          mask[r].slice(/*dim=*/0, T - lengths[r], T).fill_(1);
          score[r].slice(/*dim=*/0, T - 2, T).fill_(1);
          ids[r].slice(/*dim=*/0, 0, T - lengths[r]).fill_(5);  // padding ids must not matter
        }
        auto batch = run_segments(*model, ids, mask, answers_only ? score : torch::Tensor(), {});
        REQUIRE(batch.segments.size() == 3);
        std::vector<double> expected_nll(3, 0.0);
        std::vector<int64_t> expected_tokens(3, 0);
        double expected_sum = 0;
        int64_t expected_processed = 0;
        for (int64_t r = 0; r < 3; ++r) {
          auto row = ids[r].slice(/*dim=*/0, T - lengths[r], T).unsqueeze(0);
          auto row_score = answers_only ? score[r].slice(/*dim=*/0, T - lengths[r], T).unsqueeze(0) : torch::Tensor();
          auto alone = run_segments(*model, row, {}, row_score, {});
          const size_t shift = 3 - alone.segments.size();
          for (size_t n = 0; n < alone.segments.size(); ++n) {
            expected_nll[n + shift] += alone.segments[n].nll_sum;
            expected_tokens[n + shift] += alone.segments[n].tokens;
          }
          expected_sum += alone.nll_sum.item<double>();
          expected_processed += alone.processed_tokens;
        }
        for (size_t n = 0; n < 3; ++n) {
          INFO("segment " << n);
          CHECK(batch.segments[n].tokens == expected_tokens[n]);
          CHECK(batch.segments[n].nll_sum == Approx(expected_nll[n]).epsilon(tolerance));
        }
        CHECK(batch.nll_sum.item<double>() == Approx(expected_sum).epsilon(tolerance));
        CHECK(batch.tokens == (answers_only ? 6 : 2 + 5 + 10));
        CHECK(batch.processed_tokens == expected_processed);
      }
    }
  }
}

TEST_CASE("segment runner: padded rows backpropagate as the rows alone", "[hmt][segment_runner]") {
  auto config = test::tiny_hmt_config(/*segment_length=*/3, /*sensory=*/1, /*recall=*/true, /*context=*/2);
  auto model = test::tiny_hmt(Family::Opt, config, torch::kDouble);
  auto ids = test::random_ids(/*rows=*/2, /*length=*/8, /*vocab=*/37, /*seed=*/26);
  auto mask = torch::ones({2, 8}, torch::kLong);
  mask[0].slice(/*dim=*/0, 0, 4).fill_(0);
  run_segments(*model, ids, mask, {}, {}).nll_sum.backward();
  std::vector<torch::Tensor> batch_grads;
  for (auto& p : model->parameters()) {
    batch_grads.push_back(p.grad().clone());
    p.mutable_grad() = torch::Tensor();
  }
  run_segments(*model, ids[0].slice(/*dim=*/0, 4, 8).unsqueeze(0), {}, {}, {}).nll_sum.backward();
  run_segments(*model, ids[1].unsqueeze(0), {}, {}, {}).nll_sum.backward();
  auto params = model->named_parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    INFO(params[i].key());
    // Attention key biases get a mathematically zero gradient (softmax is
    // shift invariant); the floor (gradients here are 1e-2 and up) keeps their
    // 1e-16 rounding noise out of the ratio.
    CHECK(relative_difference(batch_grads[i], params[i].value().grad(), /*floor=*/1e-3) < 1e-10);
  }
}

TEST_CASE("segment runner: loss_scope last is the mean over the last segment's tokens", "[hmt][segment_runner]") {
  auto config = test::tiny_hmt_config(/*segment_length=*/4, /*sensory=*/1, /*recall=*/true, /*context=*/3);
  auto model = test::tiny_hmt(Family::Llama, config, torch::kDouble);
  auto ids = test::random_ids(/*rows=*/2, /*length=*/14, /*vocab=*/37, /*seed=*/27);
  RunnerOptions last;
  last.loss_scope = LossScope::Last;
  auto run_last = run_segments(*model, ids, {}, {}, last);
  auto run_all = run_segments(*model, ids, {}, {}, {});
  REQUIRE(run_last.segments.size() == 4);
  // The last segment holds positions 12..13 of each row: 2 tokens per row.
  CHECK(run_last.segments.back().tokens == 4);
  CHECK(run_last.loss.item<double>() ==
        Approx(run_last.segments.back().nll_sum / run_last.segments.back().tokens).epsilon(1e-12));
  double total = 0;
  int64_t tokens = 0;
  for (const auto& s : run_all.segments) {
    total += s.nll_sum;
    tokens += s.tokens;
  }
  CHECK(tokens == 2 * 13);
  CHECK(run_all.loss.item<double>() == Approx(total / tokens).epsilon(1e-12));
  CHECK(run_last.loss.item<double>() != Approx(run_all.loss.item<double>()).epsilon(1e-6));
}

TEST_CASE("segment runner: a trailing label is scored by the last content row and fed to no segment",
          "[hmt][segment_runner]") {
  for (Family family : kFamilies) {
    INFO(test::family_label(family));
    auto config = test::tiny_hmt_config(/*segment_length=*/4, /*sensory=*/2, /*recall=*/true, /*context=*/2);
    auto model = test::tiny_hmt(family, config, torch::kDouble);
    auto ids = test::random_ids(/*rows=*/2, /*length=*/13, /*vocab=*/37, /*seed=*/28);  // S*L + 1 with S = 3
    RunnerOptions trailing;
    trailing.trailing_label = true;
    auto run = run_segments(*model, ids, {}, {}, trailing);
    // Without the option the 13th token makes a 4th, one-token segment; the
    // first three segments compute the same, and that token's NLL comes from
    // the third segment's last row in both runs.
    auto plain = run_segments(*model, ids, {}, {}, {});
    REQUIRE(run.segments.size() == 3);
    REQUIRE(plain.segments.size() == 4);
    CHECK(run.segments[0].nll_sum == Approx(plain.segments[0].nll_sum).epsilon(1e-12));
    CHECK(run.segments[1].nll_sum == Approx(plain.segments[1].nll_sum).epsilon(1e-12));
    CHECK(run.segments[2].nll_sum == Approx(plain.segments[2].nll_sum + plain.segments[3].nll_sum).epsilon(1e-12));
    CHECK(run.segments[2].tokens == plain.segments[2].tokens + plain.segments[3].tokens);
    CHECK(run.tokens == 2 * 12);
    CHECK(run.nll_sum.item<double>() == Approx(plain.nll_sum.item<double>()).epsilon(1e-12));
    // Two rows, three segment passes each: (2 + 4), then 2 x (2 + 2 + 4) with
    // summary passes (2 + 2) for segments 1 and 2.
    CHECK(run.processed_tokens == 2 * ((2 + 4) + 2 * (2 + 2 + 4) + 2 * (2 + 2)));

    // A left-padded row with a trailing label scores as that row alone.
    auto mask = torch::ones({2, 13}, torch::kLong);
    mask[0].slice(/*dim=*/0, 0, 6).fill_(0);  // row 0: 7 tokens = 6 content + label
    auto padded = run_segments(*model, ids, mask, {}, trailing);
    auto row0 = run_segments(*model, ids[0].slice(/*dim=*/0, 6, 13).unsqueeze(0), {}, {}, trailing);
    auto row1 = run_segments(*model, ids[1].unsqueeze(0), {}, {}, trailing);
    CHECK(row0.tokens == 6);
    CHECK(padded.tokens == row0.tokens + row1.tokens);
    CHECK(padded.nll_sum.item<double>() ==
          Approx(row0.nll_sum.item<double>() + row1.nll_sum.item<double>()).epsilon(1e-10));
  }
}

TEST_CASE("segment runner: a batch cut for another grid is refused with the grid it was cut for",
          "[hmt][segment_runner]") {
  auto config = test::tiny_hmt_config(/*segment_length=*/4, /*sensory=*/1, /*recall=*/false, /*context=*/2);
  auto model = test::tiny_hmt(Family::Llama, config, torch::kDouble);
  // Windows of S*L + 1 = 2*4 + 1 tokens.
  auto ids = test::random_ids(/*rows=*/2, /*length=*/9, /*vocab=*/37, /*seed=*/5);
  RunnerOptions options;
  options.trailing_label = true;
  options.segments = 2;
  options.segment_length = 4;
  CHECK(run_segments(*model, ids, {}, {}, options).segments.size() == 2);
  options.segment_length = 3;
  CHECK_THROWS_WITH(run_segments(*model, ids, {}, {}, options),
                    Catch::Contains("cut for segments of L = 3 tokens, but the model's hmt.segment_length is 4"));
  options.segment_length = 4;
  options.segments = 3;
  CHECK_THROWS_WITH(run_segments(*model, ids, {}, {}, options),
                    Catch::Contains("cut for S = 3 segments of L = 4, but its longest row (9 columns) holds 2"));
}

}  // namespace
}  // namespace hmt
