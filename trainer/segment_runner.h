#pragma once
// The recurrence over the S segments of a batch (HMT_SPEC sections 3-4): memory
// passing, the recall cache of the newest N memory embeddings, sensory memory,
// content-logit alignment across segment boundaries, truncation K and
// segment-level gradient checkpointing. The loss of each segment is computed
// inside its (checkpointed) region so [L, V] logits never outlive a segment.
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/hmt_model.h"

namespace hmt {

// What one segment of the recurrence saw and produced, for tests and
// diagnostics (the tensors are detached).
struct SegmentTrace {
  int64_t index = 0;                   // n, counted over the batch's S segments
  torch::Tensor memory_in;             // [B, d] m_n
  torch::Tensor memory_out;            // [B, d] M_n (rows without tokens here: m_n passed through)
  std::vector<int64_t> cache_segments;  // the segments whose M_i the recall cache held at n (oldest first)
  torch::Tensor recall_weights;        // [B, |cache|] the recall's attention over cache_segments; undefined without recall
  torch::Tensor recall_rows;           // [B] bool: rows whose memory came from recall (the others' weights mean nothing)
};

struct RunnerOptions {
  int64_t truncate = 0;       // train.bptt.truncate K; 0 = off
  bool checkpoint = false;    // train.bptt.checkpoint (not with Memory::None, which runs uncheckpointed)
  // What the recurrence carries between segments (`hmt eval --mode`):
  // Hmt = as the model's config says; Rmt = memory passing only, no sensory
  // tokens and no recall (the RMT baseline); None = every segment through
  // the backbone alone, no memory slots either (the segment-limited backbone
  // baseline). Rmt and None score exactly the tokens Hmt scores.
  enum class Memory { Hmt, Rmt, None } memory = Memory::Hmt;
  enum class LossScope { All, Last } loss_scope = LossScope::All;
  // The last real token of each row is a label only: it is predicted by the
  // row's last content token but not fed as content (language-model windows
  // of S*L + 1 tokens give S full segments). It belongs to the last segment.
  bool trailing_label = false;
  std::function<void(const SegmentTrace&)> trace;  // called once per segment when set
};

// train.loss_scope ("all" | "last") as the enum; throws hmt::Error otherwise.
RunnerOptions::LossScope parse_loss_scope(const std::string& value);
// "hmt" | "rmt" | "backbone" as the enum, and back; throws hmt::Error otherwise.
RunnerOptions::Memory parse_memory_mode(const std::string& value);
const char* memory_mode_name(RunnerOptions::Memory memory);

struct SegmentNll {
  int64_t tokens = 0;  // scored tokens that belong to this segment
  double nll_sum = 0;  // their summed NLL
};

struct DocumentRun {
  torch::Tensor loss;              // scalar with grad: mean NLL over the tokens of the loss scope
  torch::Tensor nll_sum;           // scalar: summed NLL over all scored tokens (with grad when enabled)
  int64_t tokens = 0;              // scored tokens, all segments
  std::vector<SegmentNll> segments;  // per segment, by the segment that contains each token
  torch::Tensor row_nll_sum;       // [B] float64 on the CPU, detached: each row's summed NLL (e.g. answer choices)
  int64_t processed_tokens = 0;    // tokens through the backbone, summary passes and sensory included (for MFU)
};

// Runs a batch of documents through the model. ids [B, T] int64; mask [B, T]
// (1 = real, 0 = left padding) or undefined; score_mask [B, T] (1 = this
// token is scored, e.g. PubMedQA answers only) or undefined = all real tokens
// but the first of each row. Segments are ids[:, nL:(n+1)L]. Gradients flow
// when grad mode is on; the caller calls loss.backward().
//
// Padding: each row's real tokens are cut into segments of L from its own
// first token, and the rows' segment sequences are aligned to the END of the
// batch (S = the most segments any row needs). A row with fewer segments
// starts with segments of pure padding, in which its memory passes through
// and its cache gets nothing; its short last segment is padded after its real
// tokens. So every row computes exactly what it computes alone. The loss is
// the batch's summed NLL over its scored tokens divided by their count (not a
// mean of row means); `segments` and `processed_tokens` count the rows
// together, each as it would count alone.
DocumentRun run_segments(HmtModel& model, const torch::Tensor& ids, const torch::Tensor& mask,
                         const torch::Tensor& score_mask, const RunnerOptions& options);

}  // namespace hmt
