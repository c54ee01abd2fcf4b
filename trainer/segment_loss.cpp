#include "trainer/segment_loss.h"

namespace hmt {

SegmentOutcome segment_outcome(HmtModel& model, const torch::Tensor& memory, const SegmentTokens& tokens,
                               const SegmentTargets& targets) {
  auto pass = model.segment_pass(memory, tokens);
  auto logits = pass.content_logits;
  // Half-precision log-softmax over a large vocabulary loses digits; fp32
  // and fp64 stay as they are.
  if (logits.scalar_type() == torch::kHalf || logits.scalar_type() == torch::kBFloat16)
    logits = logits.to(torch::kFloat);
  auto picked = torch::log_softmax(logits, /*dim=*/-1).gather(/*dim=*/2, targets.ids.unsqueeze(-1)).squeeze(-1);
  // where(), not a multiply: a row of padding must contribute an exact 0.
  auto nll = torch::where(targets.valid, -picked, torch::zeros_like(picked));
  return {pass.memory_out, nll};
}

}  // namespace hmt
