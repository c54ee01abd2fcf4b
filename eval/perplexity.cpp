#include "eval/perplexity.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/error.h"
#include "eval/eval_scope.h"
#include "model/backbone_runner.h"

namespace hmt {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

RunnerOptions runner_options(MemoryMode mode, RecallHistogram* histogram) {
  RunnerOptions options;
  options.memory = mode;
  if (histogram != nullptr) options.trace = [histogram](const SegmentTrace& trace) { histogram->add(trace); };
  return options;
}

}  // namespace

std::vector<int64_t> rounded_contexts(const std::vector<int64_t>& contexts, int64_t segment_length) {
  HMT_CHECK(!contexts.empty(), "contexts: give at least one context length");
  std::vector<int64_t> out;
  for (int64_t x : contexts) {
    HMT_CHECK(x >= 0, "contexts: a context length must be >= 0, got {}", x);
    out.push_back(std::max<int64_t>(1, (x + segment_length - 1) / segment_length) * segment_length);
  }
  return out;
}

std::vector<int64_t> scored_segment_starts(int64_t stream_tokens, int64_t max_context, int64_t segment_length,
                                           int64_t windows) {
  HMT_CHECK(windows >= 1, "windows: must be >= 1, got {}", windows);
  HMT_CHECK(stream_tokens >= max_context + segment_length,
            "the evaluation split has {} tokens; a context of {} plus one scored segment of {} needs {}", stream_tokens,
            max_context, segment_length, max_context + segment_length);
  const int64_t candidates = (stream_tokens - max_context - segment_length) / segment_length + 1;
  std::vector<int64_t> starts;
  if (windows >= candidates) {
    for (int64_t i = 0; i < candidates; ++i) starts.push_back(max_context + i * segment_length);
    return starts;
  }
  // Evenly spread, first and last candidate included; distinct because
  // candidates > windows.
  for (int64_t w = 0; w < windows; ++w) {
    const int64_t i = windows == 1 ? 0 : w * (candidates - 1) / (windows - 1);
    starts.push_back(max_context + i * segment_length);
  }
  return starts;
}

std::vector<ContextPerplexity> context_perplexity(HmtModel& model, const TokenStream& stream,
                                                  const ContextEvalOptions& options, RecallHistogram* histogram,
                                                  const EvalProgress& progress) {
  HMT_CHECK(options.batch >= 1, "batch: must be >= 1, got {}", options.batch);
  const int64_t L = model.config().segment_length;
  const auto contexts = rounded_contexts(options.contexts, L);
  const int64_t max_context = *std::max_element(contexts.begin(), contexts.end());
  HMT_CHECK(options.score_after >= 0, "score after: must be >= 0, got {}", options.score_after);
  const int64_t first_scored = options.score_after > 0
                                   ? std::max(max_context, rounded_contexts({options.score_after}, L).front())
                                   : max_context;
  const auto starts = scored_segment_starts(stream.size(), first_scored, L, options.windows);
  const bool segment_limited = options.mode == MemoryMode::None;
  const bool full_attention = options.mode == MemoryMode::Full;
  const int64_t positions = model.backbone().config().max_position_embeddings;
  HMT_CHECK(!full_attention || positions <= 0 || max_context + L <= positions,
            "mode full: a context of {} plus one segment of {} is a window of {} tokens, more than the backbone's "
            "max_position_embeddings {}",
            max_context, L, max_context + L, positions);
  EvalScope scope(model);

  std::vector<ContextPerplexity> out;
  for (int64_t context : contexts) {
    // Backbone mode: the previous segment is all a scored segment can see.
    if (segment_limited && !out.empty()) {
      ContextPerplexity same = out.front();
      same.context = context;
      out.push_back(same);
      continue;
    }
    const int64_t run_context = segment_limited ? L : context;
    const bool traced = context == max_context && histogram != nullptr;
    const RunnerOptions runner = runner_options(options.mode, traced ? histogram : nullptr);
    ContextPerplexity result;
    result.context = context;
    const auto start = Clock::now();
    auto last_report = start;
    double batch_ppl_sum = 0;
    int64_t batches = 0;
    for (size_t first = 0; first < starts.size(); first += static_cast<size_t>(options.batch)) {
      const int64_t rows = std::min<int64_t>(options.batch, static_cast<int64_t>(starts.size() - first));
      auto ids = torch::empty({rows, run_context + L}, torch::kLong);
      for (int64_t r = 0; r < rows; ++r)
        stream.read(starts[first + static_cast<size_t>(r)] - run_context, run_context + L, ids[r].data_ptr<int64_t>());
      BatchNll run;
      if (full_attention) {
        auto score = torch::zeros({rows, run_context + L}, torch::kLong);
        score.narrow(/*dim=*/1, run_context, L).fill_(1);
        run = run_backbone_window(model.backbone(), ids, /*mask=*/{}, score);
      } else {
        run = run_segments(model, ids, /*mask=*/{}, /*score_mask=*/{}, runner);
      }
      const SegmentNll& scored = run.segments.back();
      result.tokens += scored.tokens;
      result.nll_sum += scored.nll_sum;
      result.processed_tokens += run.processed_tokens;
      result.windows += rows;
      result.input_tokens += rows * (run_context + L);
      batch_ppl_sum += std::exp(scored.nll_sum / static_cast<double>(std::max<int64_t>(scored.tokens, 1)));
      ++batches;
      if (progress && seconds_since(last_report) > 30) {
        progress(fmt::format("{} context {}: {}/{} windows, {:.1f} s", memory_mode_name(options.mode), context,
                             result.windows, starts.size(), seconds_since(start)));
        last_report = Clock::now();
      }
    }
    result.seconds = seconds_since(start);
    result.ppl = std::exp(result.nll_sum / static_cast<double>(std::max<int64_t>(result.tokens, 1)));
    result.ppl_batch_mean = batch_ppl_sum / static_cast<double>(std::max<int64_t>(batches, 1));
    out.push_back(result);
  }
  return out;
}

DocumentPerplexity document_perplexity(HmtModel& model, const DocumentView& documents,
                                       const DocumentEvalOptions& options, RecallHistogram* histogram,
                                       const EvalProgress& progress) {
  HMT_CHECK(options.max_documents >= 0 && options.max_tokens >= 0, "documents: limits must be >= 0");
  const RunnerOptions runner = runner_options(options.mode, histogram);
  EvalScope scope(model);
  DocumentPerplexity result;
  const int64_t count = options.max_documents > 0 ? std::min(options.max_documents, documents.documents())
                                                  : documents.documents();
  const auto start = Clock::now();
  auto last_report = start;
  for (int64_t d = 0; d < count; ++d) {
    int64_t length = documents.length(d);
    if (options.max_tokens > 0) length = std::min(length, options.max_tokens);
    if (length < 2) continue;  // nothing to score
    auto ids = torch::empty({1, length}, torch::kLong);
    documents.read(d, /*begin=*/0, length, ids.data_ptr<int64_t>());
    BatchNll run = run_segments(model, ids, /*mask=*/{}, /*score_mask=*/{}, runner);
    result.documents += 1;
    result.input_tokens += length;
    result.tokens += run.tokens;
    result.nll_sum += run.nll_sum.item<double>();
    result.processed_tokens += run.processed_tokens;
    result.longest = std::max(result.longest, length);
    if (progress && seconds_since(last_report) > 30) {
      progress(fmt::format("{} documents: {}/{}, {} tokens, {:.1f} s", memory_mode_name(options.mode), d + 1, count,
                           result.tokens, seconds_since(start)));
      last_report = Clock::now();
    }
  }
  HMT_CHECK(result.documents > 0, "documents: no document of the split has 2 or more tokens to score");
  result.seconds = seconds_since(start);
  result.ppl = std::exp(result.nll_sum / static_cast<double>(std::max<int64_t>(result.tokens, 1)));
  return result;
}

}  // namespace hmt
