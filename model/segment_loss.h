#pragma once
// One segment's region of the recurrence (docs/hmt.md 3.3-3.4 and the NLL of
// section 3): the segment pass and the NLL of its content rows against
// targets known in advance. Everything it needs comes in as tensors and
// everything it leaves goes out as tensors, so the checkpointed backward can
// rerun it alone, and the [B, Ln, V] logits die inside it.
#include <torch/torch.h>

#include "model/hmt_model.h"

namespace hmt {

struct SegmentTargets {
  torch::Tensor ids;    // [B, Ln] int64: the token each content row predicts
  torch::Tensor valid;  // [B, Ln] bool: that token is real and scored
};

struct SegmentOutcome {
  torch::Tensor memory_out;  // [B, d] M_n
  torch::Tensor nll;         // [B, Ln] per-row NLL, 0 where not valid
  torch::Tensor misses;      // [B] int64: valid targets that are not the argmax (count_misses only)
};

// count_misses: also count, per row, the scored tokens whose greedy
// (argmax) prediction differs from the target.
SegmentOutcome segment_outcome(HmtModel& model, const torch::Tensor& memory, const SegmentTokens& tokens,
                               const SegmentTargets& targets, bool count_misses = false);

}  // namespace hmt
