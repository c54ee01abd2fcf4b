#pragma once
// A from-scratch backbone described by the experiment's `model:` section,
// turned into the HF config.json a pretrained model would carry, so that
// random init, saving and loading all go through one BackboneConfig path.
#include <nlohmann/json.hpp>

#include "core/config.h"
#include "model/hf_config.h"

namespace hmt {

nlohmann::json scratch_hf_json(const ModelConfig& model);
BackboneConfig scratch_backbone_config(const ModelConfig& model);

}  // namespace hmt
