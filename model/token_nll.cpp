#include "model/token_nll.h"

namespace hmt {

torch::Tensor token_nll(const torch::Tensor& logits, const torch::Tensor& targets, const torch::Tensor& valid) {
  auto x = logits;
  // Half-precision log-softmax over a large vocabulary loses digits; fp32
  // and fp64 stay as they are.
  if (x.scalar_type() == torch::kHalf || x.scalar_type() == torch::kBFloat16) x = x.to(torch::kFloat);
  auto picked = torch::log_softmax(x, /*dim=*/-1).gather(/*dim=*/2, targets.unsqueeze(-1)).squeeze(-1);
  // where(), not a multiply: a row of padding must contribute an exact 0.
  return torch::where(valid, -picked, torch::zeros_like(picked));
}

}  // namespace hmt
