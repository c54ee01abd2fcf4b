#pragma once
// Which parameters train (model.trainable, docs/lora.md): requires_grad set
// by parameter name, on a bare Backbone or on a module that holds the
// backbone as "backbone" beside its "hmt.*" parameters (HmtModel).
#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace hmt {

enum class TrainableMode {
  Full,    // every parameter
  Lora,    // only LoRA adapter tensors (".lora_" in the name) and hmt.*
  Frozen,  // only hmt.*: the backbone is fixed
};

// "full" | "lora" | "frozen"; anything else is an error listing those.
TrainableMode parse_trainable_mode(const std::string& name);

// Sets requires_grad on every parameter of `model` by `mode` and returns the
// number of trainable scalars (a tensor shared by two names, such as tied
// embeddings, counted once). Mode lora on a model without adapters is an
// error: it would silently train only hmt.*, which is what frozen says.
int64_t apply_trainable(torch::nn::Module& model, TrainableMode mode);

}  // namespace hmt
