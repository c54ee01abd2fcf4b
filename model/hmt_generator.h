#pragma once
// Autoregressive HMT inference over one document (batch 1): reads a prompt
// and appends generated tokens segment by segment, with the memory of
// docs/hmt.md section 3 (docs/generation.md). The recurrence itself (m_n,
// sensory tokens, recall cache) is the MemoryRecurrence that run_segments
// drives; this class adds the key/value cache and the cutting of fed tokens.
//
// Segments. Tokens are cut into segments of L content tokens from the first
// prompt token on, exactly as run_segments cuts a document. A segment that
// the tokens fed in one call fill and overrun is read in one segment pass
// (Z_n = [m_n ; embed(s_n) ; embed(H_n) ; m_n], docs/hmt.md 3.3). The segment
// holding the newest token stays open: its tokens so far, after m_n and the
// sensory tokens s_n, sit in a key/value cache, each new token costs one
// position, and the content logit row of the newest token is the next-token
// distribution (the trailing memory slot comes after every content position,
// so it changes no content row). A segment is closed when a token arrives
// for the next one: feeding m_n once more after its L content tokens gives
// M_n = last_hidden there, which equals the segment pass's M_n; M_n joins the
// recall cache (newest N kept) and the next segment starts a fresh key/value
// cache.
//
// The memory m_n of a segment is fixed when the segment opens, as in the
// spec: hmt.memory for n = 0; M_{n-1} without recall; with recall, memory
// recall over the cache, queried by the summary pass [T ; embed(x) ; T].
// x is the segment's own first min(j, len) tokens when the call that opens
// it knows len >= 1 of them (prompt reading: for a short last prompt segment
// that is what run_segments does too). A segment opened by a generated token
// cannot see its first j tokens, which do not exist yet: x is then the
// newest j tokens already seen, the tail of the previous segment. So the
// prompt's scores equal run_segments' over the prompt, while a generated
// segment's memory differs from the one run_segments would compute once the
// whole text is known.
//
// Mode::Recompute recomputes the open segment's full pass
// ([m_n ; embed(s_n) ; embed(H_n so far)] through HmtModel::segment_pass)
// for every token instead of using the key/value cache: the slow reference
// the cached path is tested against.
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "model/hmt_model.h"
#include "model/kv_cache.h"
#include "model/memory_recurrence.h"

namespace hmt {

class HmtGenerator {
 public:
  enum class Mode { Cached, Recompute };
  // Receives the content logit rows of fed tokens, [n, V] for n consecutive
  // tokens in order: row i predicts the token after the i-th.
  using RowsCallback = std::function<void(const torch::Tensor& rows)>;

  // `model` must be in eval mode; it is used, not copied, and must outlive
  // the generator. Every call runs under NoGradGuard.
  explicit HmtGenerator(HmtModel& model, Mode mode = Mode::Cached);

  // Feeds known tokens (the prompt, or text to continue from), in as few
  // backbone calls as the segment boundaries allow. Returns the logits [V]
  // that predict the token after the last one; `rows`, when set, receives
  // every fed token's content logit row. ids must lie in [0, vocab).
  torch::Tensor feed(const std::vector<int64_t>& ids, const RowsCallback& rows = {});
  // Appends one generated token (the sampled continuation): a segment it
  // opens uses the tail rule above. Returns the logits [V] for the next one.
  torch::Tensor append_generated(int64_t id);

  int64_t tokens() const { return tokens_; }                         // fed + generated so far
  int64_t segment() const { return recurrence_.segment(); }          // n of the segment the newest token is in
  int64_t closed_segments() const { return recurrence_.segment(); }  // M_n computed for segments 0..closed-1
  int64_t open_tokens() const { return static_cast<int64_t>(current_.size()); }  // |H_n so far|
  const torch::Tensor& segment_memory() const { return recurrence_.memory(); }   // m_n of the open segment, [1, d]
  const RecallCache& recall_cache() const { return recurrence_.cache(); }        // M_i, [1, d] each, oldest first
  const KvCache& kv_cache() const { return kv_; }

 private:
  // Opens segment n in the recurrence (m_n, s_n) and starts its key/value cache.
  // `known` = the segment's first tokens when the caller knows them.
  void open_segment(const std::vector<int64_t>& known);
  // Runs `chunk` (continuing the open segment) and returns its content
  // logit rows [chunk, V].
  torch::Tensor extend_segment(const std::vector<int64_t>& chunk);
  // A whole segment in one pass (it is known to be complete); returns its
  // content logit rows [L, V] and closes it.
  torch::Tensor full_segment(const std::vector<int64_t>& ids);
  void close_segment();
  // Records M_n of the just-finished segment and advances to n + 1.
  void finish_segment(const torch::Tensor& memory_out);
  SegmentTokens segment_tokens(const std::vector<int64_t>& ids) const;
  torch::Tensor id_tensor(const std::vector<int64_t>& ids) const;
  void check_ids(const std::vector<int64_t>& ids) const;

  HmtModel& model_;
  Mode mode_;
  int64_t length_, summary_;
  torch::Device device_;

  MemoryRecurrence recurrence_;    // m_n, s_n, the recall cache
  std::vector<int64_t> previous_;  // H_{n-1}, for the summary of a segment a generated token opens
  std::vector<int64_t> current_;   // H_n so far
  KvCache kv_;                     // Mode::Cached: [m_n ; s_n ; H_n so far]
  int64_t tokens_ = 0;
};

}  // namespace hmt
