#pragma once
// LoRA adapters on a backbone's linear maps (PEFT's LoRA, docs/lora.md).
// Adapters live inside layers::Linear / layers::Conv1D and are named as in a
// PEFT adapter file, "<module HF name>.lora_A.weight" / ".lora_B.weight";
// save_backbone never writes them, so model.safetensors stays a plain HF
// model: merge_lora before exporting, save_lora_adapters for checkpoints.
#include <string>
#include <vector>

#include "core/experiment_config.h"
#include "model/backbone.h"

namespace hmt {

// PEFT's TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING for our
// families: llama/mistral/qwen2 and opt q_proj, v_proj; gpt2 c_attn.
std::vector<std::string> default_lora_targets(Family family);

// HF names of every Linear / Conv1D module of the backbone (the possible
// targets), in registration order.
std::vector<std::string> linear_module_names(Backbone& backbone);

// HF names of the modules that carry an adapter, in registration order.
std::vector<std::string> lora_module_names(Backbone& backbone);

// Attaches an adapter (config.rank, alpha, dropout) to every Linear/Conv1D
// whose HF name equals a target or ends in "." + target (PEFT's suffix
// match); config.enabled is not consulted, the caller decides. Targets are
// config.target_modules, or the family default when empty. A target that
// matches nothing, or a module that already has an adapter, is an error;
// the first lists the family's linear module names. Returns the adapted
// module names.
std::vector<std::string> attach_lora(Backbone& backbone, const LoraConfig& config);

// Folds B A * alpha/r into each adapted base weight (transposed for Conv1D)
// and removes the adapters: the merged backbone computes the same logits in
// eval mode and saves as a plain HF model.
void merge_lora(Backbone& backbone);

// A new backbone without adapters whose weights are this one's with the
// adapters folded in; `backbone` itself is left as it is (export uses this so
// that a run can keep training after exporting).
std::shared_ptr<Backbone> merged_copy(Backbone& backbone);

// Writes only the adapter tensors, by their named_parameters() names, with
// the rank and scaling as metadata. Errors when there are no adapters.
void save_lora_adapters(Backbone& backbone, const std::string& path);

// Copies a save_lora_adapters file into the adapters already attached (with
// attach_lora and the same config): errors name missing or unexpected
// tensors, shape mismatches and a different rank or scaling.
void load_lora_adapters(Backbone& backbone, const std::string& path);

}  // namespace hmt
