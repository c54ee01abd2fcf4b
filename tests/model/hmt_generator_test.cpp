// HmtGenerator (model/hmt_generator.h): the key/value-cached path against
// the recompute-everything reference, the prompt's scores against
// run_segments (docs/hmt.md section 3), and the memory rule of segments that
// generation opens.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "model/hmt_generator.h"
#include "model/sampling.h"
#include "tests/model/hmt_fixtures.h"
#include "model/segment_runner.h"

namespace hmt {
namespace {

using Mode = HmtGenerator::Mode;
const Family kFamilies[] = {Family::Llama, Family::Gpt2, Family::Opt};

std::vector<int64_t> random_tokens(int64_t length, uint64_t seed) {
  auto ids = test::random_ids(/*rows=*/1, length, /*vocab=*/37, seed)[0];
  return std::vector<int64_t>(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + length);
}

struct GreedyRun {
  std::vector<int64_t> tokens;
  std::vector<torch::Tensor> logits;  // the distribution each token was chosen from
  int64_t closed = 0;
};

GreedyRun greedy(HmtModel& model, Mode mode, const std::vector<int64_t>& prompt, int64_t count) {
  HmtGenerator generator(model, mode);
  GreedyRun run;
  auto logits = generator.feed(prompt);
  for (int64_t i = 0; i < count; ++i) {
    run.logits.push_back(logits);
    run.tokens.push_back(greedy_token(logits));
    logits = generator.append_generated(run.tokens.back());
  }
  run.closed = generator.closed_segments();
  return run;
}

// Content logit rows of every fed token, [T, V].
torch::Tensor prompt_rows(HmtGenerator& generator, const std::vector<int64_t>& ids) {
  std::vector<torch::Tensor> rows;
  generator.feed(ids, [&rows](const torch::Tensor& chunk) { rows.push_back(chunk); });
  return torch::cat(rows, /*dim=*/0);
}

// Spec section 3's alignment: x[t] is scored by the row of position t - 1.
double nll_from_rows(const torch::Tensor& rows, const std::vector<int64_t>& ids) {
  auto log_probs = torch::log_softmax(rows.to(torch::kDouble), /*dim=*/-1);
  double total = 0;
  for (size_t t = 1; t < ids.size(); ++t) total -= log_probs[static_cast<int64_t>(t) - 1][ids[t]].item<double>();
  return total;
}

torch::Tensor as_batch(const std::vector<int64_t>& ids) {
  return torch::tensor(ids, torch::kLong).view({1, static_cast<int64_t>(ids.size())});
}

TEST_CASE("hmt generator: greedy generation with the key/value cache equals generation without it",
          "[hmt_generator][model]") {
  for (Family family : kFamilies) {
    for (bool recall : {true, false}) {
      // L = 5, k = 2, N = 2: a 12-token prompt ends inside segment 2, and 18
      // generated tokens cross the boundaries at 15, 20, 25; the 10-token
      // prompt ends on a boundary, so generation opens segment 2 itself.
      for (int64_t prompt_length : {12, 10}) {
        INFO(test::family_label(family) << " recall " << recall << " prompt " << prompt_length);
        auto config = test::tiny_hmt_config(/*segment_length=*/5, /*sensory=*/2, recall, /*context=*/2);
        auto model = test::tiny_hmt(family, config, torch::kDouble);
        torch::NoGradGuard no_grad;
        auto prompt = random_tokens(prompt_length, /*seed=*/31);
        auto cached = greedy(*model, Mode::Cached, prompt, /*count=*/18);
        auto reference = greedy(*model, Mode::Recompute, prompt, /*count=*/18);
        CHECK(cached.tokens == reference.tokens);
        CHECK(cached.closed == reference.closed);
        CHECK(cached.closed == (prompt_length + 18 - 1) / 5);
        double worst = 0;
        for (size_t i = 0; i < cached.logits.size(); ++i)
          worst = std::max(worst, test::relative_difference(cached.logits[i], reference.logits[i]));
        CHECK(worst < 1e-10);
      }
    }
  }
}

TEST_CASE("hmt generator: the prompt's NLL from the generator's logits equals run_segments' nll_sum",
          "[hmt_generator][model]") {
  for (Family family : kFamilies) {
    for (bool recall : {true, false}) {
      // Short last segment (23), a multiple of L (20), one partial segment (3).
      for (int64_t length : {23, 20, 3}) {
        INFO(test::family_label(family) << " recall " << recall << " length " << length);
        auto config = test::tiny_hmt_config(/*segment_length=*/5, /*sensory=*/3, recall, /*context=*/2);
        auto model = test::tiny_hmt(family, config, torch::kDouble);
        torch::NoGradGuard no_grad;
        auto ids = random_tokens(length, /*seed=*/40 + length);
        const double expected = run_segments(*model, as_batch(ids), {}, {}, {}).nll_sum.item<double>();
        for (Mode mode : {Mode::Cached, Mode::Recompute}) {
          HmtGenerator generator(*model, mode);
          auto rows = prompt_rows(generator, ids);
          REQUIRE(rows.size(0) == length);
          CHECK(nll_from_rows(rows, ids) == Approx(expected).epsilon(1e-10));
          CHECK(generator.segment() == (length - 1) / 5);
        }
      }
    }
  }
}

TEST_CASE("hmt generator: a prompt fed in pieces scores as the prompt fed at once", "[hmt_generator][model]") {
  for (Family family : kFamilies) {
    INFO(test::family_label(family));
    // Every segment opens inside a piece that holds >= j = 2 of its tokens,
    // so its summary reads the same tokens either way; segments 0-2 close
    // on the key/value cache here and in one segment pass there.
    auto config = test::tiny_hmt_config(/*segment_length=*/5, /*sensory=*/2, /*recall=*/true, /*context=*/2);
    auto model = test::tiny_hmt(family, config, torch::kDouble);
    torch::NoGradGuard no_grad;
    auto ids = random_tokens(17, /*seed=*/3);
    HmtGenerator whole(*model), pieces(*model);
    auto all_rows = prompt_rows(whole, ids);
    std::vector<torch::Tensor> rows;
    size_t pos = 0;
    for (size_t piece : {2, 1, 6, 3, 5}) {
      rows.push_back(prompt_rows(pieces, std::vector<int64_t>(ids.begin() + pos, ids.begin() + pos + piece)));
      pos += piece;
    }
    CHECK(test::relative_difference(torch::cat(rows, /*dim=*/0), all_rows) < 1e-10);
  }
}

TEST_CASE("hmt generator: without recall, generating equals run_segments over prompt + generated text",
          "[hmt_generator][model]") {
  // With recall off no segment's memory depends on its own future tokens, so
  // nothing differs from reading the finished text: the closing memory pass
  // on the key/value cache must give the segment pass's M_n.
  for (Family family : kFamilies) {
    INFO(test::family_label(family));
    auto config = test::tiny_hmt_config(/*segment_length=*/5, /*sensory=*/2, /*recall=*/false, /*context=*/2);
    auto model = test::tiny_hmt(family, config, torch::kDouble);
    torch::NoGradGuard no_grad;
    auto prompt = random_tokens(7, /*seed=*/12);
    auto run = greedy(*model, Mode::Cached, prompt, /*count=*/16);
    std::vector<int64_t> text = prompt;
    text.insert(text.end(), run.tokens.begin(), run.tokens.end());
    const double expected = run_segments(*model, as_batch(text), {}, {}, {}).nll_sum.item<double>();

    HmtGenerator generator(*model);
    auto rows = prompt_rows(generator, prompt);
    std::vector<torch::Tensor> all{rows};
    for (int64_t id : run.tokens) all.push_back(generator.append_generated(id).unsqueeze(0));
    CHECK(nll_from_rows(torch::cat(all, /*dim=*/0), text) == Approx(expected).epsilon(1e-10));
  }
}

TEST_CASE("hmt generator: a segment opened by a generated token recalls with the previous segment's tail",
          "[hmt_generator][model]") {
  for (Family family : kFamilies) {
    INFO(test::family_label(family));
    // L = 6, j = 3, N = 2: the prompt fills segments 0-2, so the cache holds
    // M_1, M_2 when generation opens segment 3.
    auto config = test::tiny_hmt_config(/*segment_length=*/6, /*sensory=*/2, /*recall=*/true, /*context=*/2);
    auto model = test::tiny_hmt(family, config, torch::kDouble);
    torch::NoGradGuard no_grad;
    auto prompt = random_tokens(18, /*seed=*/5);
    std::vector<torch::Tensor> memory_out;
    RunnerOptions options;
    options.trace = [&memory_out](const SegmentTrace& t) { memory_out.push_back(t.memory_out); };
    run_segments(*model, as_batch(prompt), {}, {}, options);
    REQUIRE(memory_out.size() == 3);

    for (Mode mode : {Mode::Cached, Mode::Recompute}) {
      HmtGenerator generator(*model, mode);
      generator.feed(prompt);
      CHECK(generator.closed_segments() == 2);  // segment 2 stays open until a token arrives for segment 3
      generator.append_generated(/*id=*/4);
      CHECK(generator.segment() == 3);
      CHECK(generator.closed_segments() == 3);
      REQUIRE(generator.recall_cache().size() == 2);
      CHECK(test::relative_difference(generator.recall_cache().entries()[0].memory, memory_out[1]) < 1e-10);
      CHECK(test::relative_difference(generator.recall_cache().entries()[1].memory, memory_out[2]) < 1e-10);

      SegmentTokens tail;
      tail.ids = as_batch(std::vector<int64_t>(prompt.end() - 3, prompt.end()));
      auto expected = model->recall(model->summary_pass(tail), torch::stack({memory_out[1], memory_out[2]}, 1));
      CHECK(test::relative_difference(generator.segment_memory(), expected) < 1e-10);
      // Not the summary of the segment's own (generated) first token.
      SegmentTokens own;
      own.ids = as_batch({4});
      auto other = model->recall(model->summary_pass(own), torch::stack({memory_out[1], memory_out[2]}, 1));
      CHECK(test::relative_difference(generator.segment_memory(), other) > 1e-6);
    }
  }
}

TEST_CASE("hmt generator: bad input is an error", "[hmt_generator][model]") {
  auto config = test::tiny_hmt_config(/*segment_length=*/5, /*sensory=*/2, /*recall=*/true, /*context=*/2);
  auto model = test::tiny_hmt(Family::Llama, config, torch::kDouble);
  HmtGenerator generator(*model);
  CHECK_THROWS_WITH(generator.append_generated(3), Catch::Contains("feed a prompt"));
  CHECK_THROWS_WITH(generator.feed({}), Catch::Contains("empty prompt"));
  CHECK_THROWS_WITH(generator.feed({1, 37}), Catch::Contains("token #1 is id 37") && Catch::Contains("[0, 37)"));
  CHECK_THROWS_WITH(generator.feed({-1}), Catch::Contains("id -1"));
  model->train();
  CHECK_THROWS_WITH(HmtGenerator(*model), Catch::Contains("eval mode"));
}

}  // namespace
}  // namespace hmt
