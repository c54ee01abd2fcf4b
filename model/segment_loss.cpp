#include "model/segment_loss.h"

#include "model/token_nll.h"

namespace hmt {

SegmentOutcome segment_outcome(HmtModel& model, const torch::Tensor& memory, const SegmentTokens& tokens,
                               const SegmentTargets& targets) {
  auto pass = model.segment_pass(memory, tokens);
  auto nll = token_nll(pass.content_logits, targets.ids, targets.valid);
  return {pass.memory_out, nll};
}

}  // namespace hmt
