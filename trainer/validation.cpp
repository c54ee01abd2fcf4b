#include "trainer/validation.h"

#include <cmath>

namespace hmt {

void ValidationTotals::add(const BatchNll& run) {
  nll_sum += run.nll_sum.item<double>();
  tokens += static_cast<double>(run.tokens);
  if (!run.segments.empty()) {
    last_nll_sum += run.segments.back().nll_sum;
    last_tokens += static_cast<double>(run.segments.back().tokens);
  }
}

ValidationTotals validate(torch::nn::Module& model, int64_t batches, const std::function<BatchNll()>& forward_next) {
  const bool was_training = model.is_training();
  model.eval();
  ValidationTotals totals;
  {
    torch::NoGradGuard no_grad;
    for (int64_t i = 0; i < batches; ++i) totals.add(forward_next());
  }
  model.train(was_training);
  return totals;
}

nlohmann::ordered_json validation_row(const ValidationTotals& totals, const std::string& stage, int64_t step,
                                      int64_t global_step) {
  // JSON has no NaN: a figure without tokens is null.
  auto number = [](double v) { return std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json(); };
  return {{"kind", "valid"},
          {"stage", stage},
          {"step", step},
          {"global_step", global_step},
          {"valid_loss", number(totals.loss())},
          {"valid_ppl", number(std::exp(totals.loss()))},
          {"valid_last_ppl", number(std::exp(totals.last_loss()))},
          {"valid_tokens", totals.tokens}};
}

}  // namespace hmt
