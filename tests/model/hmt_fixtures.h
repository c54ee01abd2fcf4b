#pragma once
// Tiny HMT models of the three backbone families for the runner tests, and
// helpers that read parameters by name and compare gradients.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>

#include "model/backbone.h"
#include "model/hmt_model.h"

namespace hmt::test {

inline BackboneConfig tiny_backbone(Family family, double dropout) {
  BackboneConfig c;
  c.family = family;
  c.vocab_size = 37;
  c.hidden_size = 16;
  c.num_layers = 2;
  c.num_heads = 2;
  c.num_kv_heads = 2;
  c.intermediate_size = 24;
  c.max_position_embeddings = 40;
  // Larger than HF's 0.02 so that memory and recall visibly move the logits.
  c.head_dim = 8;
  c.initializer_range = 0.2;
  c.tie_word_embeddings = true;
  switch (family) {
    case Family::Llama:
      c.model_type = "llama";
      c.norm_eps = 1e-6;
      c.activation = "silu";
      c.attn_pdrop = dropout;
      break;
    case Family::Gpt2:
      c.model_type = "gpt2";
      c.activation = "gelu_new";
      c.embd_pdrop = c.resid_pdrop = c.attn_pdrop = dropout;
      break;
    case Family::Opt:
      c.model_type = "opt";
      c.word_embed_proj_dim = 12;  // project_in/out: d = 12 differs from the width
      c.activation = "relu";
      c.resid_pdrop = c.attn_pdrop = dropout;
      break;
  }
  return c;
}

inline const char* family_label(Family family) {
  return family == Family::Llama ? "llama" : family == Family::Gpt2 ? "gpt2" : "opt";
}

inline HmtConfig tiny_hmt_config(int64_t segment_length, int64_t sensory, bool recall, int64_t context) {
  HmtConfig c;
  c.segment_length = segment_length;
  c.num_sensory = sensory;
  c.sum_fraction = 0.5;
  c.recall.enabled = recall;
  c.recall.context = context;
  c.recall.hidden_dim = 6;
  return c;
}

// Seeds torch's generator, builds the backbone and the HMT parameters.
inline std::shared_ptr<HmtModel> tiny_hmt(Family family, const HmtConfig& config, torch::Dtype dtype,
                                          double dropout = 0.0, uint64_t seed = 7) {
  torch::manual_seed(seed);
  auto backbone = make_backbone(tiny_backbone(family, dropout));
  backbone->to(dtype);
  auto model = std::make_shared<HmtModel>(backbone, config);
  model->eval();
  return model;
}

inline torch::Tensor random_ids(int64_t rows, int64_t length, int64_t vocab, uint64_t seed) {
  torch::manual_seed(seed);
  return torch::randint(vocab, {rows, length}, torch::kLong);
}

inline torch::Tensor named(torch::nn::Module& module, const std::string& name) {
  auto params = module.named_parameters();
  const auto* found = params.find(name);
  INFO("parameter " << name);
  REQUIRE(found != nullptr);
  return *found;
}

// max |a - b| / max(|b|_max, floor): one relative figure per tensor.
inline double relative_difference(const torch::Tensor& a, const torch::Tensor& b, double floor = 1e-12) {
  auto scale = std::max(b.abs().max().item<double>(), floor);
  return (a - b).abs().max().item<double>() / scale;
}

}  // namespace hmt::test
