#pragma once
// A tiny HF config.json of each model_type (vocab 64, width 32, 2 layers, 4
// heads), parsed the way a real directory's config is, for model tests.
#include <nlohmann/json.hpp>

#include <string>

#include "model/hf_config.h"

namespace hmt::test {

inline BackboneConfig tiny_backbone_config(const std::string& model_type,
                                           const nlohmann::json& overrides = nlohmann::json::object()) {
  nlohmann::json j;
  if (model_type == "gpt2") {
    j = {{"model_type", "gpt2"}, {"vocab_size", 64}, {"n_embd", 32},
         {"n_layer", 2},         {"n_head", 4},      {"n_positions", 64}};
  } else if (model_type == "opt") {
    j = {{"model_type", "opt"},          {"vocab_size", 64}, {"hidden_size", 32},
         {"num_hidden_layers", 2},       {"ffn_dim", 64},    {"num_attention_heads", 4},
         {"max_position_embeddings", 64}};
  } else {
    j = {{"model_type", model_type}, {"vocab_size", 64},
         {"hidden_size", 32},        {"intermediate_size", 48},
         {"num_hidden_layers", 2},   {"num_attention_heads", 4},
         {"num_key_value_heads", 4}, {"max_position_embeddings", 64}};
  }
  j.update(overrides);
  return parse_hf_config(j, "tiny " + model_type);
}

}  // namespace hmt::test
