#pragma once
// The one place an experiment's `model:`, `hmt:` and `lora:` sections become
// an HmtModel: a pretrained HF directory or a seeded from-scratch backbone,
// the hmt.* parameters, LoRA adapters and model.trainable. Training,
// evaluation and export all build through it, so a model made from the same
// config is the same model everywhere.
#include <memory>

#include "core/experiment_config.h"
#include "model/hmt_model.h"

namespace hmt {

// Seeds torch's generator with runtime.seed, then draws (in this order) the
// from-scratch backbone weights, the hmt.* tensors and the LoRA factors. The
// model is on runtime.device, in train mode; requires_grad follows
// model.trainable (hmt.* always train).
std::shared_ptr<HmtModel> build_hmt_model(const ExperimentConfig& config);

}  // namespace hmt
