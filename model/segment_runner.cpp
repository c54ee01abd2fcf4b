#include "model/segment_runner.h"

#include <algorithm>

#include "core/error.h"
#include "model/memory_recurrence.h"
#include "model/segment_checkpoint.h"
#include "model/segment_loss.h"

namespace hmt {
namespace {

// The batch re-laid out per row (see run_segments in the header): [B, W] with
// W = S*L (+1 with a trailing label column); row r's content tokens start at
// column (S - S_r) * L, and with a trailing label its last token follows its
// content as a target only.
//
// The masks, [B, T] in the caller's columns or [B, W] in the layout's:
//   mask        (caller) 1 = a real token, 0 = padding.
//   score_mask  (caller) 1 = the token counts in the loss (e.g. answers only).
//   real        (layout) content: fed to the backbone. Excludes the trailing label.
//   present     (layout) real or the trailing label: a token that exists.
//   scored      (layout) present and in score_mask, but never a row's first
//               token (nothing predicts it).
//   valid       (layout, [B, S*L]) column c is real and predicts a scored
//               token at c + 1: the NLL terms that count.
struct Layout {
  torch::Tensor ids;      // [B, W] int64, 0 at padding
  torch::Tensor real;     // [B, W] bool
  torch::Tensor valid;    // [B, S*L] bool
  torch::Tensor targets;  // [B, S*L] int64: column c's row predicts the id at c + 1 (0 where invalid)
  int64_t segments = 0;
};

Layout layout_rows(const torch::Tensor& ids, const torch::Tensor& mask, const torch::Tensor& score_mask, int64_t length,
                   bool trailing_label) {
  const int64_t batch = ids.size(0), width = ids.size(1);
  const int64_t label = trailing_label ? 1 : 0;
  auto ids_cpu = ids.to(torch::kCPU, torch::kLong);
  auto real_cpu = mask.defined() ? mask.to(torch::kCPU).to(torch::kBool) : torch::ones({batch, width}, torch::kBool);
  auto score_cpu = score_mask.defined() ? score_mask.to(torch::kCPU).to(torch::kBool) : real_cpu;
  std::vector<torch::Tensor> positions(static_cast<size_t>(batch));
  int64_t segments = 0;
  for (int64_t r = 0; r < batch; ++r) {
    positions[r] = real_cpu[r].nonzero().squeeze(1);
    const int64_t content = std::max<int64_t>(positions[r].numel() - label, 0);
    segments = std::max(segments, (content + length - 1) / length);
  }
  HMT_CHECK(segments > 0, "run_segments: the batch has no real token{}",
            trailing_label ? " before its trailing label" : "");
  const int64_t columns = segments * length + label;
  Layout out;
  out.segments = segments;
  out.ids = torch::zeros({batch, columns}, torch::kLong);
  out.real = torch::zeros({batch, columns}, torch::kBool);
  auto present = torch::zeros({batch, columns}, torch::kBool);  // content or trailing label
  auto scored = torch::zeros({batch, columns}, torch::kBool);
  for (int64_t r = 0; r < batch; ++r) {
    const int64_t count = positions[r].numel();
    const int64_t content = std::max<int64_t>(count - label, 0);
    if (content == 0) continue;
    const int64_t offset = (segments - (content + length - 1) / length) * length;
    out.ids[r].narrow(/*dim=*/0, offset, count).copy_(ids_cpu[r].index_select(0, positions[r]));
    out.real[r].narrow(/*dim=*/0, offset, content).fill_(true);
    present[r].narrow(/*dim=*/0, offset, count).fill_(true);
    scored[r].narrow(/*dim=*/0, offset, count).copy_(score_cpu[r].index_select(0, positions[r]));
    scored[r][offset] = false;  // a row's first token has no predictor
  }
  // Column c predicts column c + 1; without a trailing label the last
  // content column predicts nothing.
  auto valid = out.real.narrow(/*dim=*/1, 0, columns - 1)
                   .logical_and(present.narrow(/*dim=*/1, 1, columns - 1))
                   .logical_and(scored.narrow(/*dim=*/1, 1, columns - 1));
  out.valid = trailing_label ? valid : torch::cat({valid, torch::zeros({batch, 1}, torch::kBool)}, /*dim=*/1);
  const int64_t content_columns = segments * length;
  out.targets = trailing_label ? out.ids.narrow(/*dim=*/1, 1, content_columns)
                               : torch::cat({out.ids.narrow(/*dim=*/1, 1, content_columns - 1),
                                             torch::zeros({batch, 1}, torch::kLong)},
                                            /*dim=*/1);
  return out;
}

// Tokens through the backbone for the MFU figure, each row counted as it
// would be alone: a segment's content, its two memory slots and its sensory
// tokens, and, where the recall runs for the row, the summary pass's j tokens
// and two prompt slots. content_real: [B, S, L] bool on the host.
int64_t processed_tokens(const torch::Tensor& content_real, int64_t summary_j, bool memory_slots, int64_t sensory,
                         bool recall) {
  auto real_counts = content_real.sum(/*dim=*/2).to(torch::kLong);
  auto j_counts =
      content_real.narrow(/*dim=*/2, 0, std::min(summary_j, content_real.size(2))).sum(/*dim=*/2).to(torch::kLong);
  auto real_count = real_counts.accessor<int64_t, 2>();
  auto j_count = j_counts.accessor<int64_t, 2>();
  int64_t total = 0;
  for (int64_t n = 0; n < real_counts.size(1); ++n)
    for (int64_t r = 0; r < real_counts.size(0); ++r) {
      if (real_count[r][n] == 0) continue;
      total += (memory_slots ? 2 : 0) + real_count[r][n];
      if (n == 0) continue;
      total += std::min(sensory, real_count[r][n - 1]);
      // Filled segments of a row are contiguous, so its cache is non-empty
      // exactly when it had tokens in segment n - 1.
      if (recall && real_count[r][n - 1] > 0) total += 2 + j_count[r][n];
    }
  return total;
}

// The NLL accounted by the segment each scored token belongs to: column c's
// target sits at c + 1, in segment (c + 1) / L, and a trailing label belongs
// to the last. So segment n's last column counts towards n + 1.
class SegmentLosses {
 public:
  SegmentLosses(const torch::Tensor& valid /*[B, S*L] host*/, int64_t segments, int64_t length)
      : length_(length), sums_(static_cast<size_t>(segments)), tokens_(static_cast<size_t>(segments), 0) {
    auto per_column = valid.sum(/*dim=*/0).to(torch::kLong);  // [S*L]
    auto column_count = per_column.accessor<int64_t, 1>();
    for (int64_t c = 0; c < segments * length; ++c)
      tokens_[std::min((c + 1) / length, segments - 1)] += column_count[c];
  }

  // nll [B, L] of segment n, 0 where not valid.
  void add(int64_t n, const torch::Tensor& nll) {
    const auto S = static_cast<int64_t>(sums_.size());
    auto own = (n + 1 < S ? nll.narrow(/*dim=*/1, 0, length_ - 1) : nll).sum();
    sums_[n] = sums_[n].defined() ? sums_[n] + own : own;
    if (n + 1 < S) sums_[n + 1] = nll.select(/*dim=*/1, length_ - 1).sum();
    auto rows = nll.detach().to(torch::kDouble).sum(/*dim=*/1);
    row_sums_ = row_sums_.defined() ? row_sums_ + rows : rows;  // detached: per-row figures carry no graph
  }

  void finish(LossScope scope, BatchNll& run) const {
    const auto S = sums_.size();
    run.nll_sum = sums_[0];
    for (size_t n = 1; n < S; ++n) run.nll_sum = run.nll_sum + sums_[n];
    auto sums_host = torch::stack(sums_).detach().to(torch::kCPU, torch::kDouble);
    run.row_nll_sum = row_sums_.to(torch::kCPU, torch::kDouble);
    for (size_t n = 0; n < S; ++n) {
      run.segments.push_back({tokens_[n], sums_host[static_cast<int64_t>(n)].item<double>()});
      run.tokens += tokens_[n];
    }
    const bool last = scope == LossScope::Last;
    const torch::Tensor& scope_sum = last ? sums_.back() : run.nll_sum;
    const int64_t scope_tokens = last ? tokens_.back() : run.tokens;
    // No scored token in scope: a zero that still belongs to the graph.
    run.loss = scope_tokens > 0 ? scope_sum / static_cast<double>(scope_tokens) : scope_sum * 0.0;
  }

 private:
  int64_t length_;
  std::vector<torch::Tensor> sums_;  // scalars, with grad when enabled
  std::vector<int64_t> tokens_;
  torch::Tensor row_sums_;  // [B] float64
};

}  // namespace

BatchNll run_segments(HmtModel& model, const torch::Tensor& ids, const torch::Tensor& mask,
                      const torch::Tensor& score_mask, const RunnerOptions& options) {
  HMT_CHECK(ids.dim() == 2 && ids.scalar_type() == torch::kLong, "run_segments: ids must be [B, T] int64");
  for (const auto* m : {&mask, &score_mask})
    HMT_CHECK(!m->defined() || m->sizes() == ids.sizes(), "run_segments: masks must be [B, T] like ids");
  HMT_CHECK(options.truncate >= 0, "run_segments: truncate must be >= 0, got {}", options.truncate);
  const int64_t L = model.config().segment_length;
  HMT_CHECK(options.segment_length == 0 || options.segment_length == L,
            "run_segments: the batch was cut for segments of L = {} tokens, but the model's hmt.segment_length is {}",
            options.segment_length, L);
  const int64_t batch = ids.size(0);
  MemoryRecurrence recurrence(model, options.memory, batch, options.truncate);

  Layout host = layout_rows(ids, mask, score_mask, L, options.trailing_label);
  const int64_t S = host.segments;
  HMT_CHECK(options.segments == 0 || options.segments == S,
            "run_segments: the batch was cut for S = {} segments of L = {}, but its longest row ({} columns) holds {}",
            options.segments, L, ids.size(1), S);
  if (const auto& distances = options.last_segment_recall_distances; !distances.empty()) {
    HMT_CHECK(static_cast<int64_t>(distances.size()) == batch,
              "run_segments: oracle recall needs one distance per row ({}), got {}", batch, distances.size());
    std::vector<int64_t> sources;
    for (int64_t d : distances) sources.push_back(S - 1 - d);
    recurrence.force_recall(/*segment=*/S - 1, sources);
  }
  const auto device = model.memory_init().device();
  auto all_ids = host.ids.to(device), all_real = host.real.to(device), all_valid = host.valid.to(device);
  auto all_targets = host.targets.to(device);
  // Without memory slots there is no boundary tensor to checkpoint against.
  const bool checkpoint = options.checkpoint && recurrence.has_memory() && torch::GradMode::is_enabled();
  HMT_CHECK(!checkpoint || !options.count_misses, "run_segments: count_misses does not run under checkpoint");
  torch::Tensor misses;
  torch::Tensor anchor = checkpoint ? make_checkpoint_anchor(model.memory_init()) : torch::Tensor();
  auto content_real = host.real.narrow(/*dim=*/1, 0, S * L).reshape({batch, S, L});
  auto filled_rows = (content_real.any(/*dim=*/2)).sum(/*dim=*/0).to(torch::kLong);  // [S] on the host
  SegmentLosses losses(host.valid, S, L);

  for (int64_t n = 0; n < S; ++n) {
    SegmentTokens tokens;
    tokens.ids = all_ids.narrow(/*dim=*/1, n * L, L);
    tokens.mask = all_real.narrow(/*dim=*/1, n * L, L);
    tokens.sensory_ids = recurrence.sensory_ids();
    tokens.sensory_mask = recurrence.sensory_mask();
    SegmentTrace trace;
    trace.cache_segments = recurrence.cache().segments();
    auto memory_in = recurrence.open([&] {
      return checkpoint ? checkpointed_summary_pass(model, tokens, anchor) : model.summary_pass(tokens);
    });

    SegmentTargets targets{all_targets.narrow(/*dim=*/1, n * L, L), all_valid.narrow(/*dim=*/1, n * L, L)};
    auto outcome = checkpoint ? checkpointed_segment_outcome(model, memory_in, tokens, targets, anchor)
                              : segment_outcome(model, memory_in, tokens, targets, options.count_misses);
    if (options.count_misses) misses = misses.defined() ? misses + outcome.misses : outcome.misses;
    auto filled = content_real.select(/*dim=*/1, n).any(/*dim=*/1).to(device);  // [B]: the row has tokens in n
    auto memory_out = recurrence.close(outcome.memory_out, tokens.ids, tokens.mask, filled,
                                       filled_rows[n].item<int64_t>());
    losses.add(n, outcome.nll);

    if (options.trace) {
      trace.index = n;
      trace.recall_weights = recurrence.recall_weights();
      trace.recall_rows = recurrence.recall_rows();
      if (recurrence.has_memory()) {
        trace.memory_in = memory_in.detach();
        trace.memory_out = memory_out.detach();
      }
      options.trace(trace);
    }
  }

  BatchNll run;
  losses.finish(options.loss_scope, run);
  if (options.count_misses) run.row_misses = misses.to(torch::kCPU);
  run.processed_tokens = processed_tokens(content_real, model.config().summary_tokens(), recurrence.has_memory(),
                                          recurrence.sensory_length(),
                                          options.memory == MemoryMode::Hmt && model.config().recall.enabled);
  return run;
}

}  // namespace hmt
