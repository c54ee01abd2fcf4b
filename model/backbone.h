#pragma once
// The decoder-only LM that HMT wraps (docs/hmt.md section 1). One interface for
// the llama, gpt2 and opt families; module names equal the HuggingFace
// parameter names, so named_parameters() is the safetensors key set.
#include <torch/torch.h>

#include <memory>
#include <string>

#include "model/hf_config.h"
#include "model/kv_cache.h"

namespace hmt {

struct BackboneOutput {
  torch::Tensor logits;       // [B, T, V]
  torch::Tensor last_hidden;  // [B, T, d]: after the final norm (and OPT's project_out)
};

class Backbone : public torch::nn::Module {
 public:
  explicit Backbone(BackboneConfig config) : config_(std::move(config)) {}
  ~Backbone() override = default;

  // Token-embedding lookup only: [B, T] int64 -> [B, T, d], d = embed_dim().
  virtual torch::Tensor embed(const torch::Tensor& ids) = 0;

  // Causal LM over input embeddings. `mask` is [B, T] (1 = real token, 0 =
  // padding) or undefined for "all real". Positions count real tokens only
  // (cumsum(mask) - 1), so a left-padded row computes exactly what the same
  // row computes alone.
  virtual BackboneOutput forward(const torch::Tensor& embeds, const torch::Tensor& mask = {}) = 0;

  // Incremental decoding: runs the T new positions of `embeds` [B, T, d]
  // after the cache.length() positions `cache` holds, appends their keys and
  // values to it and returns logits and last_hidden of the new positions
  // only. Positions continue from cache.length() (OPT adds its offset, llama
  // rotates at the absolute position), so feeding a sequence in chunks of
  // any size gives what one forward() over the whole sequence gives. No
  // padding mask: every row is all real tokens. For inference: the cache is
  // written in place, so run it under torch::NoGradGuard. Dropout follows
  // is_training() as in forward(); generation runs in eval mode.
  virtual BackboneOutput forward_cached(const torch::Tensor& embeds, KvCache& cache) = 0;

  const BackboneConfig& config() const { return config_; }
  int64_t embed_dim() const { return config_.embed_dim(); }

 protected:
  BackboneConfig config_;
};

// A randomly initialised backbone (HF's init: normal(0, initializer_range)
// for weights, zeros for biases, ones for norm weights), seeded by the caller.
std::shared_ptr<Backbone> make_backbone(const BackboneConfig& config);

// Loads a HuggingFace model directory: config.json + model.safetensors or a
// sharded model.safetensors.index.json. Errors name the missing/extra tensor,
// the expected and actual shapes, an unsupported model_type, or a directory
// with only pytorch_model.bin (with the command to convert it).
// An export's hmt_manifest.json, when there is one, is verified first
// (core/file_manifest.h) unless the caller has just done so.
std::shared_ptr<Backbone> load_backbone(const std::string& dir, torch::Dtype dtype = torch::kFloat32,
                                        bool verify_manifest = true);

// Writes config.json + model.safetensors with HF tensor names (tied weights
// written once, as HF does).
void save_backbone(Backbone& backbone, const std::string& dir);

}  // namespace hmt
