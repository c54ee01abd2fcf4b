#pragma once
// A batch of documents through the HMT recurrence (docs/hmt.md sections 3-4):
// the rows laid out on the segment grid, MemoryRecurrence driven over the S
// segments (memory, sensory tokens, recall cache, truncation K), each
// segment's pass plain or under segment-level gradient checkpointing, and
// the NLL accounted per segment and row. The loss of each segment is computed
// inside its (checkpointed) region so [L, V] logits never outlive a segment.
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/experiment_config.h"
#include "model/hmt_model.h"
#include "model/memory_recurrence.h"

namespace hmt {

// What one segment of the recurrence saw and produced, for tests and
// diagnostics (the tensors are detached).
struct SegmentTrace {
  int64_t index = 0;                    // n, counted over the batch's S segments
  torch::Tensor memory_in;              // [B, d] m_n
  torch::Tensor memory_out;             // [B, d] M_n (rows without tokens here: m_n passed through)
  std::vector<int64_t> cache_segments;  // the segments whose M_i the recall cache held at n (oldest first)
  torch::Tensor recall_weights;  // [B, |cache|] the recall's attention over cache_segments; undefined without recall
  torch::Tensor recall_rows;     // [B] bool: rows whose memory came from recall (the others' weights mean nothing)
};

struct RunnerOptions {
  int64_t truncate = 0;     // train.bptt.truncate K; 0 = off
  bool checkpoint = false;  // train.bptt.checkpoint (not with MemoryMode::None, which runs uncheckpointed)
  // Rmt and None score exactly the tokens Hmt scores.
  MemoryMode memory = MemoryMode::Hmt;
  LossScope loss_scope = LossScope::All;
  // The last real token of each row is a label only: it is predicted by the
  // row's last content token but not fed as content (language-model windows
  // of S*L + 1 tokens give S full segments). It belongs to the last segment.
  bool trailing_label = false;
  // The grid the batch was cut for (Batch::segments, Batch::segment_length):
  // checked against the model's L and the rows, so that a batch cut for
  // another L fails instead of running on a shifted grid. 0 = not cut (eval
  // documents, QA samples: S follows from the longest row).
  int64_t segments = 0;
  int64_t segment_length = 0;
  std::function<void(const SegmentTrace&)> trace;  // called once per segment when set
  // Fill BatchNll::row_misses (greedy exact match without generating: the
  // greedy continuation equals the scored tokens exactly when every one of
  // them is the argmax given the ones before). Not with checkpoint.
  bool count_misses = false;
  // Oracle recall at the batch's last segment (MemoryRecurrence::force_recall;
  // `hmt eval --mode hmt-oracle`): row r's memory input there is the memory
  // that the segment D_r before it wrote. Empty = the learned recall.
  std::vector<int64_t> last_segment_recall_distances;
};

struct SegmentNll {
  int64_t tokens = 0;  // scored tokens that belong to this segment
  double nll_sum = 0;  // their summed NLL
};

// The NLL of one batch of documents, summed and per segment and row.
struct BatchNll {
  torch::Tensor loss;                // scalar with grad: mean NLL over the tokens of the loss scope
  torch::Tensor nll_sum;             // scalar: summed NLL over all scored tokens (with grad when enabled)
  int64_t tokens = 0;                // scored tokens, all segments
  std::vector<SegmentNll> segments;  // per segment, by the segment that contains each token
  torch::Tensor row_nll_sum;         // [B] float64 on the CPU, detached: each row's summed NLL (e.g. answer choices)
  int64_t processed_tokens = 0;      // tokens through the backbone, summary passes and sensory included (for MFU)
  torch::Tensor row_misses;          // [B] int64 on the CPU: scored tokens that are not the argmax (count_misses)
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
BatchNll run_segments(HmtModel& model, const torch::Tensor& ids, const torch::Tensor& mask,
                      const torch::Tensor& score_mask, const RunnerOptions& options);

}  // namespace hmt
