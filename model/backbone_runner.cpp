#include "model/backbone_runner.h"

#include "core/error.h"
#include "model/token_nll.h"

namespace hmt {

BatchNll run_backbone_window(Backbone& backbone, const torch::Tensor& ids, const torch::Tensor& mask,
                             const torch::Tensor& score_mask) {
  HMT_CHECK(ids.dim() == 2 && ids.scalar_type() == torch::kLong && ids.size(1) >= 2,
            "run_backbone_window: ids must be [B, T] int64 with T >= 2");
  for (const auto* m : {&mask, &score_mask})
    HMT_CHECK(!m->defined() || m->sizes() == ids.sizes(), "run_backbone_window: masks must be [B, T] like ids");
  const auto device = backbone.parameters().front().device();
  const int64_t width = ids.size(1);
  auto real = mask.defined() ? mask.to(device).to(torch::kBool)
                             : torch::ones(ids.sizes(), torch::dtype(torch::kBool).device(device));
  auto scored = score_mask.defined() ? score_mask.to(device).to(torch::kBool) : real;
  auto all_ids = ids.to(device);
  auto inputs = all_ids.narrow(/*dim=*/1, 0, width - 1);
  auto targets = all_ids.narrow(/*dim=*/1, 1, width - 1);
  auto input_real = real.narrow(/*dim=*/1, 0, width - 1);
  auto valid =
      input_real.logical_and(real.narrow(/*dim=*/1, 1, width - 1)).logical_and(scored.narrow(/*dim=*/1, 1, width - 1));
  // Padding positions get id 0 (like the segment runner) so the lookup stays in range.
  auto safe_inputs = torch::where(input_real, inputs, torch::zeros_like(inputs));
  auto out = backbone.forward(backbone.embed(safe_inputs),
                              mask.defined() ? input_real.to(torch::kLong) : torch::Tensor());
  auto safe_targets = torch::where(valid, targets, torch::zeros_like(targets));
  auto nll = token_nll(out.logits, safe_targets, valid);

  BatchNll run;
  run.nll_sum = nll.sum();
  run.tokens = valid.sum().item<int64_t>();
  run.processed_tokens = input_real.sum().item<int64_t>();
  run.segments.push_back({run.tokens, run.nll_sum.detach().to(torch::kCPU, torch::kDouble).item<double>()});
  run.loss = run.tokens > 0 ? run.nll_sum / static_cast<double>(run.tokens) : run.nll_sum * 0.0;
  return run;
}

}  // namespace hmt
