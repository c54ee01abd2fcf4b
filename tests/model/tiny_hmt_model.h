#pragma once
// Small HMT models of each backbone family for the export and score tests:
// segments short enough that a 30-token document spans four of them (the
// last one shorter) and a recall cache of 2 that evicts entries.
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "core/experiment_config.h"
#include "model/backbone.h"
#include "model/hmt_model.h"
#include "model/scratch_config.h"

namespace hmt::test {

inline HmtConfig tiny_hmt_config(bool recall) {
  HmtConfig config;
  config.segment_length = 8;
  config.num_sensory = 3;
  config.sum_fraction = 0.5;
  config.recall.enabled = recall;
  config.recall.context = 2;
  config.recall.hidden_dim = 6;
  return config;
}

// family: "llama", "gpt2" or "opt" (OPT with word_embed_proj_dim != hidden,
// so that d is the projected width).
inline std::shared_ptr<HmtModel> tiny_hmt_model(const std::string& family, bool recall, uint64_t seed = 7) {
  ModelConfig model;
  model.type = family;
  model.vocab_size = 53;
  model.hidden_size = 24;
  model.num_layers = 2;
  model.num_heads = 4;
  model.max_position_embeddings = 64;
  if (family == "opt") model.word_embed_proj_dim = 16;
  if (family == "llama") model.tie_word_embeddings = false;  // one family with a separate head
  torch::manual_seed(seed);
  auto backbone = make_backbone(scratch_backbone_config(model));
  auto hmt = std::make_shared<HmtModel>(backbone, tiny_hmt_config(recall));
  hmt->eval();
  return hmt;
}

inline std::vector<int32_t> tiny_document(int64_t length = 30, int32_t vocab = 53) {
  std::vector<int32_t> ids;
  for (int64_t i = 0; i < length; ++i) ids.push_back(static_cast<int32_t>((i * 29 + 5) % vocab));
  return ids;
}

inline torch::Tensor as_batch(const std::vector<int32_t>& ids) {
  return torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()), torch::kInt64).unsqueeze(0);
}

}  // namespace hmt::test
