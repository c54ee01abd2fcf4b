// PubMedQA evaluation on a QA split written here: long-answer NLL of a
// left-padded batch equals each sample run alone on its answer tokens, and
// the short answer is the choice with the lowest NLL, as computed here.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "data/store/token_store_writer.h"
#include "eval/pubmedqa.h"
#include "tests/test_paths.h"
#include "tests/model/hmt_fixtures.h"

namespace {

std::string write_qa_store(const std::string& path, std::vector<hmt::QaSample>& samples) {
  hmt::StoreHeader header;
  header.dataset = "pubmedqa";
  header.vocab_size = 37;
  header.inputs_sha256 = "qa-fixture";
  hmt::TokenStoreWriter writer(path, header);
  auto out = writer.begin_split("test", /*qa=*/true, {{"qa.json", "00", 1}});
  uint32_t lcg = 7;
  auto next = [&] {
    lcg = lcg * 1664525u + 1013904223u;
    return static_cast<int32_t>((lcg >> 16) % 37);
  };
  const int64_t lengths[] = {23, 9, 31, 14, 17};
  for (int s = 0; s < 5; ++s) {
    hmt::QaSample sample;
    for (int64_t t = 0; t < lengths[s]; ++t) sample.ids.push_back(next());
    sample.answer_start = lengths[s] - 3 - s % 2;
    sample.label = s == 3 ? -1 : s % 3;  // one unlabeled sample
    sample.group = s / 2;
    sample.name = "pmid" + std::to_string(s);
    for (int c = 0; c < 3; ++c) sample.choices[static_cast<size_t>(c)] = {next(), next()};
    if (s == 4) sample.choices[1] = {next()};  // choices may differ in length
    out.add_qa_sample(sample);
    samples.push_back(sample);
  }
  out.mark_units(5, {});
  out.finish();
  writer.finish({"test"});
  return path;
}

// Summed NLL of ids[scored_from:] for one row run alone.
double alone(hmt::HmtModel& model, const std::vector<int32_t>& ids, int64_t scored_from, hmt::MemoryMode mode) {
  auto t = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()), torch::kLong).unsqueeze(0);
  auto score = torch::zeros_like(t);
  score.narrow(/*dim=*/1, scored_from, t.size(1) - scored_from).fill_(1);
  hmt::RunnerOptions options;
  options.memory = mode;
  torch::NoGradGuard no_grad;
  return hmt::run_segments(model, t, /*mask=*/{}, score, options).nll_sum.item<double>();
}

}  // namespace

TEST_CASE("eval: PubMedQA long-answer NLL and short-answer choice equal single-sample runs", "[eval][pubmedqa]") {
  std::vector<hmt::QaSample> samples;
  const auto path = write_qa_store((hmt::test::temp_dir("eval_qa") / "qa.h5").string(), samples);
  hmt::TokenStore store(path);
  auto model = hmt::test::tiny_hmt(hmt::Family::Opt,
                                   hmt::test::tiny_hmt_config(/*segment_length=*/5, /*sensory=*/2,
                                                              /*recall=*/true, /*context=*/3),
                                   torch::kDouble);
  for (auto mode : {hmt::MemoryMode::Hmt, hmt::MemoryMode::Rmt, hmt::MemoryMode::None}) {
    hmt::QaEvalOptions options;
    options.batch = 3;  // batches of 3 and 2, left-padded
    options.mode = mode;
    auto result = hmt::qa_evaluation(*model, store.split("test"), options, nullptr);
    double nll = 0;
    int64_t tokens = 0, correct = 0;
    std::array<int64_t, 3> predicted{};
    for (const auto& s : samples) {
      nll += alone(*model, s.ids, s.answer_start, mode);
      tokens += static_cast<int64_t>(s.ids.size()) - s.answer_start;
      if (s.label < 0) continue;
      std::vector<int32_t> prefix(s.ids.begin(), s.ids.begin() + s.answer_start);
      int best = 0;
      double best_nll = 0;
      for (int c = 0; c < 3; ++c) {
        auto row = prefix;
        row.insert(row.end(), s.choices[c].begin(), s.choices[c].end());
        const double v = alone(*model, row, s.answer_start, mode);
        if (c == 0 || v < best_nll) best = c, best_nll = v;
      }
      predicted[static_cast<size_t>(best)] += 1;
      correct += best == s.label ? 1 : 0;
    }
    INFO(hmt::memory_mode_name(mode));
    CHECK(result.samples == 5);
    CHECK(result.answer_tokens == tokens);
    CHECK(result.nll_sum == Approx(nll).epsilon(1e-10));
    CHECK(result.labeled == 4);
    CHECK(result.correct == correct);
    CHECK(result.predicted == predicted);
    CHECK(result.accuracy == Approx(static_cast<double>(correct) / 4.0));
  }
}

TEST_CASE("eval: PubMedQA evaluation refuses a language-model split", "[eval][pubmedqa]") {
  const auto path = (hmt::test::temp_dir("eval_qa_lm") / "lm.h5").string();
  {
    hmt::StoreHeader header;
    header.dataset = "text";
    header.vocab_size = 37;
    header.inputs_sha256 = "x";
    hmt::TokenStoreWriter writer(path, header);
    auto out = writer.begin_split("test", /*qa=*/false, {{"a.txt", "00", 1}});
    out.add_document("a", {1, 2, 3});
    out.mark_units(1, {});
    out.finish();
    writer.finish({"test"});
  }
  hmt::TokenStore store(path);
  auto model = hmt::test::tiny_hmt(hmt::Family::Llama, hmt::test::tiny_hmt_config(4, 2, true, 3), torch::kDouble);
  CHECK_THROWS_WITH(hmt::qa_evaluation(*model, store.split("test"), {}, nullptr),
                    Catch::Contains("not a PubMedQA split"));
}
