#include "eval/recall_task.h"

#include <algorithm>
#include <chrono>
#include <numeric>

#include "core/error.h"
#include "eval/binomial_interval.h"
#include "eval/eval_scope.h"

namespace hmt {
namespace {

// [low, high] of the 95% Wilson interval; [0, 0] for a row without samples.
nlohmann::ordered_json ci95(int64_t correct, int64_t samples) {
  if (samples <= 0) return {0.0, 0.0};
  const auto ci = wilson_interval(correct, samples);
  return {ci.low, ci.high};
}

using Clock = std::chrono::steady_clock;

RecallAtDistance& row_of(RecallEvaluation& result, int64_t distance) {
  auto it = std::lower_bound(result.distances.begin(), result.distances.end(), distance,
                             [](const RecallAtDistance& r, int64_t d) { return r.distance < d; });
  if (it == result.distances.end() || it->distance != distance) it = result.distances.insert(it, {distance});
  return *it;
}

// Each row's recall at the query segment `query` (the batch's last: rows end
// together, model/segment_runner.h): the weight on the memory of segment
// query.index - D, whether it is the largest, and the weight on the memories
// of the other facts' segments.
void add_query_recall(RecallEvaluation& result, const SegmentTrace& query, const std::vector<int64_t>& distances,
                      const std::vector<std::vector<int64_t>>& others) {
  if (!query.recall_weights.defined()) return;
  auto weights = query.recall_weights.detach().to(torch::kCPU, torch::kDouble);
  auto strongest = weights.argmax(/*dim=*/1);
  auto rows = query.recall_rows.defined() ? query.recall_rows.to(torch::kCPU)
                                          : torch::ones({weights.size(0)}, torch::kBool);
  auto w = weights.accessor<double, 2>();
  auto top = strongest.accessor<int64_t, 1>();
  auto recalled = rows.accessor<bool, 1>();
  auto entry = [&](int64_t distance) -> int64_t {  // the cache column of segment query.index - distance, or -1
    const auto at = std::find(query.cache_segments.begin(), query.cache_segments.end(), query.index - distance);
    return at == query.cache_segments.end() ? -1 : at - query.cache_segments.begin();
  };
  for (int64_t r = 0; r < weights.size(0); ++r) {
    if (!recalled[r]) continue;
    const int64_t c = entry(distances[static_cast<size_t>(r)]);
    double other = 0;
    for (int64_t d : others[static_cast<size_t>(r)])
      if (const int64_t o = entry(d); o >= 0) other += w[r][o];
    add_fact_recall(result, distances[static_cast<size_t>(r)], c < 0 ? 0.0 : w[r][c], other, c >= 0 && top[r] == c);
  }
}

}  // namespace

void add_fact_recall(RecallEvaluation& result, int64_t distance, double weight, double other_weight, bool strongest) {
  auto& row = row_of(result, distance);
  row.recalled += 1;
  row.fact_weight_sum += weight;
  row.other_weight_sum += other_weight;
  row.fact_strongest += strongest ? 1 : 0;
  result.fact_recall = true;
}

void add_recall_sample(RecallEvaluation& result, int64_t distance, int64_t answer_tokens, int64_t misses,
                       double nll_sum, int64_t older) {
  auto& row = row_of(result, distance);
  const bool correct = misses == 0 && answer_tokens > 0;
  row.samples += 1;
  row.correct += correct ? 1 : 0;
  row.answer_tokens += answer_tokens;
  row.token_hits += answer_tokens - misses;
  row.nll_sum += nll_sum;
  result.samples += 1;
  result.correct += correct ? 1 : 0;
  result.accuracy = static_cast<double>(result.correct) / static_cast<double>(result.samples);
  if (older < 0) return;
  auto it = std::lower_bound(result.by_older.begin(), result.by_older.end(), older,
                             [](const RecallByOlder& r, int64_t o) { return r.older < o; });
  if (it == result.by_older.end() || it->older != older) it = result.by_older.insert(it, {older});
  it->samples += 1;
  it->correct += correct ? 1 : 0;
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
  RecallEvaluation result;
  const auto task = store.recall_task().empty() ? nlohmann::json::object() : nlohmann::json::parse(store.recall_task());
  result.chance = task.value("chance", 0.0);
  // D counts segments of the file's grid; only on the model's own is the
  // fact's segment the query's minus D.
  const bool fact_recall = options.mode == MemoryMode::Hmt && model.config().recall.enabled &&
                           task.value("segment_length", int64_t{0}) == model.config().segment_length;
  HMT_CHECK(!options.oracle || fact_recall,
            "{}: oracle recall needs hmt mode with recall (hmt.recall.enabled) and samples cut for the model's "
            "L = {} (the file's segment_length: {})",
            store.path(), model.config().segment_length, task.value("segment_length", int64_t{0}));
  result.oracle = options.oracle;
  SegmentTrace query;
  if (histogram != nullptr || fact_recall)
    runner.trace = [&](const SegmentTrace& t) {
      if (histogram != nullptr) histogram->add(t);
      if (fact_recall) query = t;  // the last call is the query segment
    };
  const auto start = Clock::now();
  auto last_report = start;
  // Samples are taken in file order; the generator cycles the distances, so
  // any prefix of the split holds them in equal numbers. They are batched by
  // length: a batch runs every segment of its longest row for all rows, and
  // in file order every batch of 8 would hold a D = 32 sample (the demo's
  // test: 2.6 times the segments that the samples have).
  std::vector<int64_t> order(static_cast<size_t>(count));
  std::iota(order.begin(), order.end(), int64_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return split.document_length(a) < split.document_length(b); });
  for (int64_t first = 0; first < count; first += options.batch) {
    const int64_t rows = std::min(count, first + options.batch) - first;
    const auto sample_at = [&](int64_t r) { return order[static_cast<size_t>(first + r)]; };
    int64_t width = 0;
    for (int64_t r = 0; r < rows; ++r) width = std::max(width, split.document_length(sample_at(r)));
    auto ids = torch::zeros({rows, width}, torch::kLong);
    auto mask = torch::zeros({rows, width}, torch::kLong);
    auto score = torch::zeros({rows, width}, torch::kLong);
    std::vector<int64_t> answer_tokens;
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t sample = sample_at(r), n = split.document_length(sample), pad = width - n;
      split.read(split.document_offset(sample), n, ids[r].data_ptr<int64_t>() + pad);
      mask[r].narrow(0, pad, n).fill_(1);
      const int64_t answer = std::max<int64_t>(split.answer_start(sample), 1);
      score[r].narrow(0, pad + answer, n - answer).fill_(1);
      answer_tokens.push_back(n - answer);
    }
    std::vector<int64_t> distances;
    std::vector<std::vector<int64_t>> others;
    for (int64_t r = 0; r < rows; ++r) {
      distances.push_back(split.distance(sample_at(r)));
      others.push_back(split.other_distances(sample_at(r)));
    }
    if (options.oracle) runner.last_segment_recall_distances = distances;  // the query is the last segment
    query = {};
    BatchNll run = run_segments(model, ids, mask, score, runner);
    auto misses = run.row_misses.accessor<int64_t, 1>();
    auto nll = run.row_nll_sum.accessor<double, 1>();
    for (int64_t r = 0; r < rows; ++r) {
      const auto& other = others[static_cast<size_t>(r)];
      const int64_t d = distances[static_cast<size_t>(r)];
      result.other_facts = result.other_facts || !other.empty();
      const int64_t older = other.empty() ? -1
                                          : std::count_if(other.begin(), other.end(), [d](int64_t o) { return o > d; });
      add_recall_sample(result, d, answer_tokens[static_cast<size_t>(r)], misses[r], nll[r], older);
    }
    if (fact_recall) add_query_recall(result, query, distances, others);
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
  for (const auto& d : r.distances) {
    rows.push_back({{"distance", d.distance},
                    {"samples", d.samples},
                    {"correct", d.correct},
                    {"accuracy", d.accuracy()},
                    {"ci95", ci95(d.correct, d.samples)},
                    {"answer_tokens", d.answer_tokens},
                    {"token_accuracy", d.answer_tokens > 0
                                           ? static_cast<double>(d.token_hits) / static_cast<double>(d.answer_tokens)
                                           : 0.0},
                    {"answer_nll", d.answer_tokens > 0 ? d.nll_sum / static_cast<double>(d.answer_tokens) : 0.0}});
    if (r.fact_recall) {
      const double n = static_cast<double>(std::max<int64_t>(d.recalled, 1));
      rows.back()["recalled"] = d.recalled;
      rows.back()["fact_recall_weight"] = d.fact_weight_sum / n;
      if (r.other_facts) rows.back()["other_facts_recall_weight"] = d.other_weight_sum / n;
      rows.back()["fact_strongest"] = static_cast<double>(d.fact_strongest) / n;
    }
  }
  nlohmann::ordered_json out = {{"samples", r.samples},   {"correct", r.correct},
                                {"accuracy", r.accuracy}, {"ci95", ci95(r.correct, r.samples)},
                                {"chance", r.chance},     {"distances", rows},
                                {"seconds", r.seconds}};
  if (r.oracle) out["oracle_recall"] = true;
  if (!r.by_older.empty()) {
    auto older = nlohmann::ordered_json::array();
    for (const auto& o : r.by_older)
      older.push_back({{"older_facts", o.older},
                       {"samples", o.samples},
                       {"correct", o.correct},
                       {"accuracy", static_cast<double>(o.correct) / static_cast<double>(o.samples)},
                       {"ci95", ci95(o.correct, o.samples)}});
    out["by_older_facts"] = older;
  }
  return out;
}

std::string format_recall_rate(const nlohmann::json& row) {
  if (!row.contains("correct") || !row.contains("samples") || row["samples"].get<int64_t>() <= 0)
    return fmt::format("{:.1f}%", 100.0 * row["accuracy"].get<double>());
  const int64_t correct = row["correct"].get<int64_t>(), samples = row["samples"].get<int64_t>();
  const auto ci = wilson_interval(correct, samples);
  return fmt::format("{:.1f}% ({:.0f}-{:.0f})", 100.0 * static_cast<double>(correct) / static_cast<double>(samples),
                     100.0 * ci.low, 100.0 * ci.high);
}

}  // namespace hmt
