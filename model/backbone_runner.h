#pragma once
// The plain backbone stage (no memory): a batch of windows through the
// backbone alone, for baselines and pre-training from scratch. Token t >= 1
// of a row is predicted by its position t - 1 as in an ordinary causal LM;
// the window's last token only ever serves as a label, so a trailing-label
// window [B, S*L + 1] and a plain one score the same tokens.
#include <torch/torch.h>

#include "model/backbone.h"
#include "model/segment_runner.h"

namespace hmt {

// ids [B, T] int64; mask [B, T] (1 = real; padding left or right) or
// undefined; score_mask [B, T] or undefined = every real token but each
// row's first. Returns loss = nll_sum / tokens (with grad when grad mode is
// on) and one entry in `segments` holding everything.
BatchNll run_backbone_window(Backbone& backbone, const torch::Tensor& ids, const torch::Tensor& mask,
                             const torch::Tensor& score_mask);

}  // namespace hmt
