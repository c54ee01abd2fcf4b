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
  if (segment_nll_sum.size() < run.segments.size()) {
    segment_nll_sum.resize(run.segments.size(), 0.0);
    segment_tokens.resize(run.segments.size(), 0.0);
  }
  for (size_t n = 0; n < run.segments.size(); ++n) {
    segment_nll_sum[n] += run.segments[n].nll_sum;
    segment_tokens[n] += static_cast<double>(run.segments[n].tokens);
  }
}

std::vector<double> ValidationTotals::packed() const {
  std::vector<double> out{nll_sum, tokens, last_nll_sum, last_tokens};
  out.insert(out.end(), segment_nll_sum.begin(), segment_nll_sum.end());
  out.insert(out.end(), segment_tokens.begin(), segment_tokens.end());
  return out;
}

void ValidationTotals::unpack(const std::vector<double>& values) {
  nll_sum = values.at(0);
  tokens = values.at(1);
  last_nll_sum = values.at(2);
  last_tokens = values.at(3);
  const size_t segments = (values.size() - 4) / 2;
  segment_nll_sum.assign(values.begin() + 4, values.begin() + 4 + static_cast<std::ptrdiff_t>(segments));
  segment_tokens.assign(values.begin() + 4 + static_cast<std::ptrdiff_t>(segments), values.end());
}

ValidationTotals validate(torch::nn::Module& model, int64_t batches,
                          const std::function<std::optional<BatchNll>()>& forward_next) {
  const bool was_training = model.is_training();
  model.eval();
  ValidationTotals totals;
  {
    torch::NoGradGuard no_grad;
    for (int64_t i = 0; i < batches; ++i)
      if (const std::optional<BatchNll> run = forward_next()) totals.add(*run);
  }
  model.train(was_training);
  return totals;
}

namespace {

// exp(mean NLL) of each segment position; null where it scored nothing.
nlohmann::ordered_json segment_ppl(const ValidationTotals& totals) {
  auto out = nlohmann::ordered_json::array();
  for (size_t n = 0; n < totals.segment_nll_sum.size(); ++n) {
    const double tokens = totals.segment_tokens[n];
    out.push_back(tokens > 0 ? nlohmann::ordered_json(std::exp(totals.segment_nll_sum[n] / tokens))
                             : nlohmann::ordered_json());
  }
  return out;
}

}  // namespace

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
          {"valid_tokens", totals.tokens},
          {"valid_segment_ppl", segment_ppl(totals)},
          {"valid_segment_tokens", totals.segment_tokens}};
}

}  // namespace hmt
