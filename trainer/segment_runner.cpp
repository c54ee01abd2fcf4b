#include "trainer/segment_runner.h"

#include <algorithm>
#include <deque>

#include "core/error.h"
#include "trainer/segment_checkpoint.h"
#include "trainer/segment_loss.h"

namespace hmt {
namespace {

// The batch re-laid out per row (see run_segments in the header): [B, W] with
// W = S*L (+1 with a trailing label column); row r's content tokens start at
// column (S - S_r) * L, and with a trailing label its last token follows its
// content as a target only.
struct Layout {
  torch::Tensor ids;    // [B, W] int64, 0 at padding
  torch::Tensor real;   // [B, W] bool: content, fed to the backbone
  torch::Tensor valid;  // [B, S*L] bool: column c's content row predicts a scored token at c + 1
  int64_t segments = 0;
};

Layout layout_rows(const torch::Tensor& ids, const torch::Tensor& mask, const torch::Tensor& score_mask,
                   int64_t length, bool trailing_label) {
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
  return out;
}

struct CacheEntry {
  torch::Tensor memory;  // [B, d] M_i
  torch::Tensor filled;  // [B] bool: row had tokens in segment i
  int64_t segment = 0;   // i
};

}  // namespace

RunnerOptions::LossScope parse_loss_scope(const std::string& value) {
  if (value == "all") return RunnerOptions::LossScope::All;
  if (value == "last") return RunnerOptions::LossScope::Last;
  fail("train.loss_scope: expected all or last, got '{}'", value);
}

RunnerOptions::Memory parse_memory_mode(const std::string& value) {
  if (value == "hmt") return RunnerOptions::Memory::Hmt;
  if (value == "rmt") return RunnerOptions::Memory::Rmt;
  if (value == "backbone") return RunnerOptions::Memory::None;
  fail("mode: expected hmt, rmt or backbone, got '{}'", value);
}

const char* memory_mode_name(RunnerOptions::Memory memory) {
  switch (memory) {
    case RunnerOptions::Memory::Hmt: return "hmt";
    case RunnerOptions::Memory::Rmt: return "rmt";
    case RunnerOptions::Memory::None: return "backbone";
  }
  return "?";
}

DocumentRun run_segments(HmtModel& model, const torch::Tensor& ids, const torch::Tensor& mask,
                         const torch::Tensor& score_mask, const RunnerOptions& options) {
  HMT_CHECK(ids.dim() == 2 && ids.scalar_type() == torch::kLong, "run_segments: ids must be [B, T] int64");
  for (const auto* m : {&mask, &score_mask})
    HMT_CHECK(!m->defined() || m->sizes() == ids.sizes(), "run_segments: masks must be [B, T] like ids");
  HMT_CHECK(options.truncate >= 0, "run_segments: truncate must be >= 0, got {}", options.truncate);
  const HmtConfig& config = model.config();
  const int64_t L = config.segment_length;
  const int64_t batch = ids.size(0);
  const bool full = options.memory == RunnerOptions::Memory::Hmt;
  const bool memory_slots = options.memory != RunnerOptions::Memory::None;
  const int64_t sensory = full ? std::min(config.num_sensory, L) : 0;
  const int64_t summary_j = config.summary_tokens();
  const bool recall = full && config.recall.enabled;

  Layout host = layout_rows(ids, mask, score_mask, L, options.trailing_label);
  const int64_t S = host.segments;
  auto memory_init = model.memory_init();
  const auto device = memory_init.device();
  auto all_ids = host.ids.to(device), all_real = host.real.to(device), all_valid = host.valid.to(device);
  // Targets: column c's row predicts the id at c + 1 (0 where invalid).
  auto all_targets = options.trailing_label
                         ? all_ids.narrow(/*dim=*/1, 1, S * L)
                         : torch::cat({all_ids.narrow(/*dim=*/1, 1, S * L - 1),
                                       torch::zeros({batch, 1}, all_ids.options())},
                                      /*dim=*/1);

  // Without memory slots there is no boundary tensor to checkpoint against.
  const bool checkpoint = options.checkpoint && memory_slots && torch::GradMode::is_enabled();
  torch::Tensor anchor = checkpoint ? make_checkpoint_anchor(memory_init) : torch::Tensor();
  auto content_real = host.real.narrow(/*dim=*/1, 0, S * L).reshape({batch, S, L});
  auto real_counts = content_real.sum(/*dim=*/2).to(torch::kLong);  // [B, S] on the host
  auto j_counts = content_real.narrow(/*dim=*/2, 0, std::min(summary_j, L)).sum(/*dim=*/2).to(torch::kLong);
  // Scored tokens by the segment they belong to: column c's target sits at
  // c + 1, in segment (c + 1) / L; a trailing label belongs to the last.
  auto per_column = host.valid.sum(/*dim=*/0).to(torch::kLong);  // [S*L]
  auto column_count = per_column.accessor<int64_t, 1>();
  auto real_count = real_counts.accessor<int64_t, 2>();
  auto j_count = j_counts.accessor<int64_t, 2>();
  std::vector<int64_t> segment_tokens(static_cast<size_t>(S), 0);
  for (int64_t c = 0; c < S * L; ++c) segment_tokens[std::min((c + 1) / L, S - 1)] += column_count[c];

  DocumentRun run;
  std::vector<torch::Tensor> segment_sums(static_cast<size_t>(S));
  torch::Tensor row_sums;  // [B], detached: per-row figures never carry a graph
  torch::Tensor previous = memory_slots ? memory_init.expand({batch, memory_init.size(1)}) : torch::Tensor();
  std::deque<CacheEntry> cache;
  for (int64_t n = 0; n < S; ++n) {
    SegmentTokens tokens;
    tokens.ids = all_ids.narrow(/*dim=*/1, n * L, L);
    tokens.mask = all_real.narrow(/*dim=*/1, n * L, L);
    if (n > 0 && sensory > 0) {
      // The previous segment is full whenever the row has one (only a row's
      // last segment is short), so its last k ids are its last k columns.
      tokens.sensory_ids = all_ids.narrow(/*dim=*/1, n * L - sensory, sensory);
      tokens.sensory_mask = all_real.narrow(/*dim=*/1, n * L - sensory, sensory);
    }
    auto filled = (real_counts.select(/*dim=*/1, n) > 0).to(device);  // [B]

    // Memory input. Without recall m_n = M_{n-1}, never older than one
    // segment, so truncation K >= 1 never detaches it; with recall the cache
    // entries older than K segments enter detached (as values and as keys).
    torch::Tensor memory_in = previous;
    SegmentTrace trace;
    for (const auto& e : cache) trace.cache_segments.push_back(e.segment);
    // Filled segments of a row are contiguous, so its cache is non-empty
    // exactly when it had tokens in segment n - 1.
    std::vector<bool> cached(static_cast<size_t>(batch), false);
    bool any_cached = false;
    for (int64_t r = 0; r < batch && recall && n > 0; ++r) {
      cached[r] = real_count[r][n] > 0 && real_count[r][n - 1] > 0;
      any_cached = any_cached || cached[r];
    }
    if (any_cached) {
      std::vector<torch::Tensor> entries, filled_entries;
      for (const auto& e : cache) {
        const bool detach = options.truncate > 0 && n - e.segment > options.truncate;
        entries.push_back(detach ? e.memory.detach() : e.memory);
        filled_entries.push_back(e.filled);
      }
      auto cache_mask = torch::stack(filled_entries, /*dim=*/1);  // [B, N']
      auto summary = checkpoint ? checkpointed_summary_pass(model, tokens, anchor) : model.summary_pass(tokens);
      auto recalled = model.recall(summary, torch::stack(entries, /*dim=*/1), cache_mask);
      trace.recall_weights = model.last_recall_weights();
      trace.recall_rows = cache_mask.any(/*dim=*/1);
      // A row whose cache is still empty starts here: it takes hmt.memory,
      // which `previous` holds for it.
      memory_in = torch::where(cache_mask.any(/*dim=*/1, /*keepdim=*/true), recalled, previous);
    }

    SegmentTargets targets{all_targets.narrow(/*dim=*/1, n * L, L), all_valid.narrow(/*dim=*/1, n * L, L)};
    auto outcome = checkpoint ? checkpointed_segment_outcome(model, memory_in, tokens, targets, anchor)
                              : segment_outcome(model, memory_in, tokens, targets);
    // Rows with no token here pass their memory through unchanged.
    auto memory_out =
        memory_slots ? torch::where(filled.unsqueeze(1), outcome.memory_out, memory_in) : torch::Tensor();

    // The last column predicts the next segment's first token (or, in the
    // last segment, the trailing label, which belongs to it).
    auto own = (n + 1 < S ? outcome.nll.narrow(/*dim=*/1, 0, L - 1) : outcome.nll).sum();
    segment_sums[n] = segment_sums[n].defined() ? segment_sums[n] + own : own;
    if (n + 1 < S) segment_sums[n + 1] = outcome.nll.select(/*dim=*/1, L - 1).sum();
    auto rows = outcome.nll.detach().to(torch::kDouble).sum(/*dim=*/1);
    row_sums = row_sums.defined() ? row_sums + rows : rows;

    for (int64_t r = 0; r < batch; ++r) {
      if (real_count[r][n] == 0) continue;
      run.processed_tokens += (memory_slots ? 2 : 0) + real_count[r][n];
      if (n > 0) run.processed_tokens += std::min(sensory, real_count[r][n - 1]);
      if (cached[r]) run.processed_tokens += 2 + j_count[r][n];
    }
    if (options.trace) {
      trace.index = n;
      if (memory_slots) {
        trace.memory_in = memory_in.detach();
        trace.memory_out = memory_out.detach();
      }
      options.trace(trace);
    }
    previous = memory_out;
    if (memory_slots) cache.push_back({memory_out, filled, n});
    while (static_cast<int64_t>(cache.size()) > config.recall.context) cache.pop_front();
  }

  run.nll_sum = segment_sums[0];
  for (int64_t n = 1; n < S; ++n) run.nll_sum = run.nll_sum + segment_sums[n];
  auto sums_host = torch::stack(segment_sums).detach().to(torch::kCPU, torch::kDouble);
  run.row_nll_sum = row_sums.to(torch::kCPU, torch::kDouble);
  for (int64_t n = 0; n < S; ++n) {
    run.segments.push_back({segment_tokens[n], sums_host[n].item<double>()});
    run.tokens += segment_tokens[n];
  }
  const bool last = options.loss_scope == RunnerOptions::LossScope::Last;
  const torch::Tensor& scope_sum = last ? segment_sums[S - 1] : run.nll_sum;
  const int64_t scope_tokens = last ? segment_tokens[S - 1] : run.tokens;
  // No scored token in scope: a zero that still belongs to the graph.
  run.loss = scope_tokens > 0 ? scope_sum / static_cast<double>(scope_tokens) : scope_sum * 0.0;
  return run;
}

}  // namespace hmt
