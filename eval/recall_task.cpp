#include "eval/recall_task.h"

#include <algorithm>
#include <chrono>

#include "core/error.h"
#include "eval/eval_scope.h"

namespace hmt {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

void add_recall_sample(RecallEvaluation& result, int64_t distance, int64_t answer_tokens, int64_t misses,
                       double nll_sum) {
  auto it = std::lower_bound(result.distances.begin(), result.distances.end(), distance,
                             [](const RecallAtDistance& r, int64_t d) { return r.distance < d; });
  if (it == result.distances.end() || it->distance != distance) it = result.distances.insert(it, {distance});
  const bool correct = misses == 0 && answer_tokens > 0;
  it->samples += 1;
  it->correct += correct ? 1 : 0;
  it->answer_tokens += answer_tokens;
  it->token_hits += answer_tokens - misses;
  it->nll_sum += nll_sum;
  result.samples += 1;
  result.correct += correct ? 1 : 0;
  result.accuracy = static_cast<double>(result.correct) / static_cast<double>(result.samples);
}

RecallEvaluation recall_evaluation(HmtModel& model, const TokenStore& store, const TokenSplit& split,
                                   const RecallEvalOptions& options, RecallHistogram* histogram,
                                   const EvalProgress& progress) {
  HMT_CHECK(split.is_qa() && split.documents() > 0 && split.distance(0) >= 0,
            "{}: split {} holds no recall samples (prepare it with --dataset passkey)", store.path(), split.name());
  HMT_CHECK(options.batch >= 1 && options.max_samples >= 0, "recall: batch must be >= 1 and max_samples >= 0");
  const int64_t count = options.max_samples > 0 ? std::min(options.max_samples, split.documents()) : split.documents();
  EvalScope scope(model);
  RunnerOptions runner;
  runner.memory = options.mode;
  runner.count_misses = true;
  if (histogram != nullptr) runner.trace = [histogram](const SegmentTrace& t) { histogram->add(t); };

  RecallEvaluation result;
  if (!store.recall_task().empty()) result.chance = nlohmann::json::parse(store.recall_task()).value("chance", 0.0);
  const auto start = Clock::now();
  auto last_report = start;
  // Samples are taken in file order; the generator cycles the distances, so
  // any prefix of the split holds them in equal numbers.
  for (int64_t first = 0; first < count; first += options.batch) {
    const int64_t rows = std::min(count, first + options.batch) - first;
    int64_t width = 0;
    for (int64_t r = 0; r < rows; ++r) width = std::max(width, split.document_length(first + r));
    auto ids = torch::zeros({rows, width}, torch::kLong);
    auto mask = torch::zeros({rows, width}, torch::kLong);
    auto score = torch::zeros({rows, width}, torch::kLong);
    std::vector<int64_t> answer_tokens;
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t sample = first + r, n = split.document_length(sample), pad = width - n;
      split.read(split.document_offset(sample), n, ids[r].data_ptr<int64_t>() + pad);
      mask[r].narrow(0, pad, n).fill_(1);
      const int64_t answer = std::max<int64_t>(split.answer_start(sample), 1);
      score[r].narrow(0, pad + answer, n - answer).fill_(1);
      answer_tokens.push_back(n - answer);
    }
    BatchNll run = run_segments(model, ids, mask, score, runner);
    auto misses = run.row_misses.accessor<int64_t, 1>();
    auto nll = run.row_nll_sum.accessor<double, 1>();
    for (int64_t r = 0; r < rows; ++r)
      add_recall_sample(result, split.distance(first + r), answer_tokens[static_cast<size_t>(r)], misses[r], nll[r]);
    if (progress && std::chrono::duration<double>(Clock::now() - last_report).count() > 30) {
      progress(fmt::format("{} recall: {}/{} samples", memory_mode_name(options.mode), first + rows, count));
      last_report = Clock::now();
    }
  }
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

nlohmann::ordered_json recall_json(const RecallEvaluation& r) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const auto& d : r.distances)
    rows.push_back({{"distance", d.distance},
                    {"samples", d.samples},
                    {"correct", d.correct},
                    {"accuracy", d.accuracy()},
                    {"answer_tokens", d.answer_tokens},
                    {"token_accuracy", d.answer_tokens > 0
                                           ? static_cast<double>(d.token_hits) / static_cast<double>(d.answer_tokens)
                                           : 0.0},
                    {"answer_nll", d.answer_tokens > 0 ? d.nll_sum / static_cast<double>(d.answer_tokens) : 0.0}});
  return {{"samples", r.samples}, {"correct", r.correct}, {"accuracy", r.accuracy},
          {"chance", r.chance},   {"distances", rows},    {"seconds", r.seconds}};
}

}  // namespace hmt
