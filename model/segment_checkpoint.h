#pragma once
// Segment-level gradient checkpointing (docs/hmt.md section 4): each backbone
// call runs inside a custom autograd Function whose forward keeps only its
// inputs (memory in, id tensors) and the RNG state, and whose backward
// replays the RNG, recomputes the pass with grad on detached inputs and
// backpropagates it reentrantly. Parameter gradients therefore accumulate
// into .grad during loss.backward(); torch::autograd::grad() on a
// checkpointed graph does not see them (as with PyTorch's reentrant
// checkpoint). The model must outlive the backward.
#include <torch/torch.h>

#include "model/hmt_model.h"
#include "model/segment_loss.h"

namespace hmt {

// `anchor`: an empty tensor that requires grad, so that the Function is part
// of the graph even when no input tensor requires grad (the summary pass has
// only ids); its gradient is never produced.
torch::Tensor make_checkpoint_anchor(const torch::Tensor& like);

SegmentOutcome checkpointed_segment_outcome(HmtModel& model, const torch::Tensor& memory, const SegmentTokens& tokens,
                                            const SegmentTargets& targets, const torch::Tensor& anchor);
torch::Tensor checkpointed_summary_pass(HmtModel& model, const SegmentTokens& tokens, const torch::Tensor& anchor);

}  // namespace hmt
