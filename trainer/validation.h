#pragma once
// Validation on held-out windows: the same forward as training, in eval mode
// (no dropout) and without gradients, summed so that ranks can add their
// totals before the means are taken (each rank validates its own share of
// the validation batches).
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "model/segment_runner.h"

namespace hmt {

struct ValidationTotals {
  double nll_sum = 0, tokens = 0;            // every scored token
  double last_nll_sum = 0, last_tokens = 0;  // the last segment's (docs/hmt.md section 9's figure)
  // By segment position n (S entries): where in the unroll the memory helps.
  std::vector<double> segment_nll_sum, segment_tokens;

  void add(const BatchNll& run);
  // PPL = exp(mean NLL); NaN without tokens.
  double loss() const { return tokens > 0 ? nll_sum / tokens : NAN; }
  double last_loss() const { return last_tokens > 0 ? last_nll_sum / last_tokens : NAN; }
  // All the sums as one vector (for the all-reduce across ranks), and back.
  std::vector<double> packed() const;
  void unpack(const std::vector<double>& values);
};

// Calls `forward_next` `batches` times under eval mode and NoGradGuard,
// restoring the module's training flag afterwards. nullopt: this rank's batch
// had no rows (the loader's keep_remainder past the split's end), nothing to add.
ValidationTotals validate(torch::nn::Module& model, int64_t batches,
                          const std::function<std::optional<BatchNll>()>& forward_next);

// The metrics.jsonl row of a (reduced) validation.
nlohmann::ordered_json validation_row(const ValidationTotals& totals, const std::string& stage, int64_t step,
                                      int64_t global_step);

}  // namespace hmt
