#include "eval/pubmedqa.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/error.h"
#include "eval/eval_scope.h"

namespace hmt {
namespace {

using Clock = std::chrono::steady_clock;

struct Row {
  std::vector<int32_t> ids;
  int64_t scored_from = 0;  // ids[scored_from:] are scored
};

// Rows left-padded to the longest: ids, mask, score mask [B, T].
struct PaddedBatch {
  torch::Tensor ids, mask, score;
};

PaddedBatch pad_left(const std::vector<Row>& rows) {
  int64_t width = 0;
  for (const auto& row : rows) width = std::max<int64_t>(width, static_cast<int64_t>(row.ids.size()));
  const auto batch = static_cast<int64_t>(rows.size());
  PaddedBatch out{torch::zeros({batch, width}, torch::kLong), torch::zeros({batch, width}, torch::kLong),
                  torch::zeros({batch, width}, torch::kLong)};
  auto ids = out.ids.accessor<int64_t, 2>();
  auto mask = out.mask.accessor<int64_t, 2>();
  auto score = out.score.accessor<int64_t, 2>();
  for (int64_t r = 0; r < batch; ++r) {
    const auto& row = rows[static_cast<size_t>(r)];
    const int64_t pad = width - static_cast<int64_t>(row.ids.size());
    for (size_t i = 0; i < row.ids.size(); ++i) {
      const int64_t c = pad + static_cast<int64_t>(i);
      ids[r][c] = row.ids[i];
      mask[r][c] = 1;
      score[r][c] = static_cast<int64_t>(i) >= row.scored_from ? 1 : 0;
    }
  }
  return out;
}

}  // namespace

QaEvaluation qa_evaluation(HmtModel& model, const TokenSplit& split, const QaEvalOptions& options,
                           RecallHistogram* histogram, const EvalProgress& progress) {
  HMT_CHECK(split.is_qa(), "split {} is not a PubMedQA split (prepare it with --dataset pubmedqa)", split.name());
  HMT_CHECK(options.batch >= 1 && options.max_samples >= 0, "qa: batch must be >= 1 and max_samples >= 0");
  const int64_t count = options.max_samples > 0 ? std::min(options.max_samples, split.documents()) : split.documents();
  HMT_CHECK(count > 0, "split {} has no samples", split.name());
  EvalScope scope(model);
  RunnerOptions long_runner;
  long_runner.memory = options.mode;
  if (histogram != nullptr) long_runner.trace = [histogram](const SegmentTrace& t) { histogram->add(t); };
  RunnerOptions choice_runner;  // the same passes again: not counted twice in the histogram
  choice_runner.memory = options.mode;

  QaEvaluation result;
  const auto start = Clock::now();
  auto last_report = start;
  for (int64_t first = 0; first < count; first += options.batch) {
    const int64_t end = std::min(count, first + options.batch);
    std::vector<QaSample> samples;
    for (int64_t s = first; s < end; ++s) samples.push_back(split.qa_sample(s));

    // Long answers: the sample's own answer tokens.
    std::vector<Row> rows;
    for (const auto& sample : samples) rows.push_back({sample.ids, sample.answer_start});
    auto batch = pad_left(rows);
    BatchNll run = run_segments(model, batch.ids, batch.mask, batch.score, long_runner);
    result.samples += static_cast<int64_t>(samples.size());
    result.answer_tokens += run.tokens;
    result.nll_sum += run.nll_sum.item<double>();

    // Short answers: three rows per labeled sample, one per choice.
    std::vector<Row> choices;
    std::vector<int> labels;
    for (const auto& sample : samples) {
      if (sample.label < 0) continue;
      labels.push_back(sample.label);
      std::vector<int32_t> prefix(sample.ids.begin(), sample.ids.begin() + sample.answer_start);
      for (const auto& choice : sample.choices) {
        HMT_CHECK(!choice.empty(), "split {}: sample {} has an empty short-answer choice", split.name(), sample.name);
        Row row{prefix, static_cast<int64_t>(prefix.size())};
        row.ids.insert(row.ids.end(), choice.begin(), choice.end());
        choices.push_back(std::move(row));
      }
    }
    if (!choices.empty()) {
      auto choice_batch = pad_left(choices);
      BatchNll scored = run_segments(model, choice_batch.ids, choice_batch.mask, choice_batch.score, choice_runner);
      auto nll = scored.row_nll_sum.accessor<double, 1>();
      for (size_t i = 0; i < labels.size(); ++i) {
        int best = 0;
        for (int c = 1; c < 3; ++c)
          if (nll[static_cast<int64_t>(3 * i) + c] < nll[static_cast<int64_t>(3 * i) + best]) best = c;
        result.predicted[static_cast<size_t>(best)] += 1;
        result.labeled += 1;
        result.correct += best == labels[i] ? 1 : 0;
      }
    }
    if (progress && std::chrono::duration<double>(Clock::now() - last_report).count() > 30) {
      progress(fmt::format("{} pubmedqa: {}/{} samples", memory_mode_name(options.mode), end, count));
      last_report = Clock::now();
    }
  }
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  result.long_answer_ppl = std::exp(result.nll_sum / static_cast<double>(std::max<int64_t>(result.answer_tokens, 1)));
  result.accuracy = result.labeled > 0 ? static_cast<double>(result.correct) / static_cast<double>(result.labeled) : 0;
  return result;
}

}  // namespace hmt
