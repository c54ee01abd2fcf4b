#pragma once
// Which parameters train (model.trainable, docs/lora.md): requires_grad set
// by parameter name, on a bare Backbone or on a module that holds the
// backbone as "backbone" beside its "hmt.*" parameters (HmtModel).
#include <torch/torch.h>

#include <cstdint>

#include "core/experiment_config.h"  // TrainableMode, parsed from model.trainable there

namespace hmt {

// Sets requires_grad on every parameter of `model` by `mode` and returns the
// number of trainable scalars (a tensor shared by two names, such as tied
// embeddings, counted once). Mode lora on a model without adapters is an
// error: it would silently train only hmt.*, which is what frozen says.
int64_t apply_trainable(torch::nn::Module& model, TrainableMode mode);

}  // namespace hmt
