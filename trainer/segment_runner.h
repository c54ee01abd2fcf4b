#pragma once
// The recurrence over the S segments of a batch (HMT_SPEC sections 3-4): memory
// passing, the recall cache of the newest N memory embeddings, sensory memory,
// content-logit alignment across segment boundaries, truncation K and
// segment-level gradient checkpointing. The loss of each segment is computed
// inside its (checkpointed) region so [L, V] logits never outlive a segment.
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "model/hmt_model.h"

namespace hmt {

struct RunnerOptions {
  int64_t truncate = 0;       // train.bptt.truncate K; 0 = off
  bool checkpoint = false;    // train.bptt.checkpoint
  enum class LossScope { All, Last } loss_scope = LossScope::All;
};

struct SegmentNll {
  int64_t tokens = 0;  // scored tokens that belong to this segment
  double nll_sum = 0;  // their summed NLL
};

struct DocumentRun {
  torch::Tensor loss;              // scalar with grad: mean NLL over the tokens of the loss scope
  torch::Tensor nll_sum;           // scalar: summed NLL over all scored tokens (with grad when enabled)
  int64_t tokens = 0;              // scored tokens, all segments
  std::vector<SegmentNll> segments;  // per segment, by the segment that contains each token
  int64_t processed_tokens = 0;    // tokens through the backbone, summary passes and sensory included (for MFU)
};

// Runs a batch of documents through the model. ids [B, T] int64; mask [B, T]
// (1 = real, 0 = left padding) or undefined; score_mask [B, T] (1 = this
// token is scored, e.g. PubMedQA answers only) or undefined = all real tokens
// but the first of each row. Segments are ids[:, nL:(n+1)L]. Gradients flow
// when grad mode is on; the caller calls loss.backward().
DocumentRun run_segments(HmtModel& model, const torch::Tensor& ids, const torch::Tensor& mask,
                         const torch::Tensor& score_mask, const RunnerOptions& options);

}  // namespace hmt
