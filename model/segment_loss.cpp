#include "model/segment_loss.h"

#include "model/token_nll.h"

namespace hmt {

SegmentOutcome segment_outcome(HmtModel& model, const torch::Tensor& memory, const SegmentTokens& tokens,
                               const SegmentTargets& targets, bool count_misses) {
  auto pass = model.segment_pass(memory, tokens);
  auto nll = token_nll(pass.content_logits, targets.ids, targets.valid);
  torch::Tensor misses;
  if (count_misses)
    misses = (pass.content_logits.argmax(/*dim=*/-1).ne(targets.ids) & targets.valid).sum(/*dim=*/1).to(torch::kLong);
  return {pass.memory_out, nll, misses};
}

}  // namespace hmt
