// GPT-2 as HF GPT2LMHeadModel computes it: learned positions, pre-LayerNorm
// blocks, fused Conv1D q/k/v, GELU MLP, lm_head tied to wte.
#include <cmath>
#include <tuple>

#include "core/error.h"
#include "model/backbone_families.h"
#include "model/layers.h"

namespace hmt {
// Named, not anonymous: in a unity batch the families' Attention and
// DecoderLayer must not meet.
namespace gpt2_impl {
namespace {

using layers::Conv1D;
using layers::LayerNorm;

BackboneConfig resolved(BackboneConfig config) {
  HMT_CHECK(config.vocab_size > 0 && config.hidden_size > 0 && config.num_layers > 0 && config.num_heads > 0 &&
                config.max_position_embeddings > 0,
            "gpt2: vocab_size, n_embd, n_layer, n_head and n_positions must be positive");
  HMT_CHECK(config.hidden_size % config.num_heads == 0, "gpt2: n_embd {} not divisible by n_head {}",
            config.hidden_size, config.num_heads);
  config.head_dim = config.hidden_size / config.num_heads;
  config.num_kv_heads = config.num_heads;
  if (config.intermediate_size <= 0) config.intermediate_size = 4 * config.hidden_size;
  if (config.activation.empty()) config.activation = "gelu_new";
  layers::check_activation(config.activation);
  // The output projection always shares wte in HF GPT-2.
  config.tie_word_embeddings = true;
  return config;
}

// HF scales both c_proj weights down with depth (GPT-2 paper, section 2.3).
double c_proj_std(const BackboneConfig& c) {
  return c.initializer_range / std::sqrt(2.0 * static_cast<double>(c.num_layers));
}

struct Attention : torch::nn::Module {
  explicit Attention(const BackboneConfig& c)
      : heads(c.num_heads), head_dim(c.head_dim), attn_p(c.attn_pdrop), resid_p(c.resid_pdrop) {
    c_attn = register_module("c_attn", std::make_shared<Conv1D>(c.hidden_size, 3 * c.hidden_size, c.initializer_range));
    c_proj = register_module("c_proj", std::make_shared<Conv1D>(c.hidden_size, c.hidden_size, c_proj_std(c)));
  }

  // With a cache, k and v of x join the cached ones of this layer.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& allowed, bool training, KvCache* cache,
                        int64_t layer) {
    auto qkv = c_attn->forward(x).split(x.size(-1), /*dim=*/-1);
    auto q = layers::split_heads(qkv[0], heads, head_dim);
    auto k = layers::split_heads(qkv[1], heads, head_dim);
    auto v = layers::split_heads(qkv[2], heads, head_dim);
    if (cache) std::tie(k, v) = cache->extend(layer, k, v);
    auto out = layers::attend(q, k, v, allowed, /*score_scale=*/1.0 / std::sqrt(static_cast<double>(head_dim)), attn_p,
                              training);
    return layers::dropout(c_proj->forward(out), resid_p, training);
  }

  int64_t heads, head_dim;
  double attn_p, resid_p;
  std::shared_ptr<Conv1D> c_attn, c_proj;
};

struct Mlp : torch::nn::Module {
  explicit Mlp(const BackboneConfig& c) : act(c.activation), resid_p(c.resid_pdrop) {
    c_fc = register_module("c_fc", std::make_shared<Conv1D>(c.hidden_size, c.intermediate_size, c.initializer_range));
    c_proj = register_module("c_proj", std::make_shared<Conv1D>(c.intermediate_size, c.hidden_size, c_proj_std(c)));
  }

  torch::Tensor forward(const torch::Tensor& x, bool training) {
    return layers::dropout(c_proj->forward(layers::activation(c_fc->forward(x), act)), resid_p, training);
  }

  std::string act;
  double resid_p;
  std::shared_ptr<Conv1D> c_fc, c_proj;
};

struct Block : torch::nn::Module {
  explicit Block(const BackboneConfig& c) {
    ln_1 = register_module("ln_1", std::make_shared<LayerNorm>(c.hidden_size, c.norm_eps));
    attn = register_module("attn", std::make_shared<Attention>(c));
    ln_2 = register_module("ln_2", std::make_shared<LayerNorm>(c.hidden_size, c.norm_eps));
    mlp = register_module("mlp", std::make_shared<Mlp>(c));
  }

  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& allowed, bool training, KvCache* cache = nullptr,
                        int64_t layer = 0) {
    auto h = x + attn->forward(ln_1->forward(x), allowed, training, cache, layer);
    return h + mlp->forward(ln_2->forward(h), training);
  }

  std::shared_ptr<LayerNorm> ln_1, ln_2;
  std::shared_ptr<Attention> attn;
  std::shared_ptr<Mlp> mlp;
};

// HF's GPT2Model: the "transformer." prefix of every parameter name.
struct Transformer : torch::nn::Module {
  explicit Transformer(const BackboneConfig& c) {
    wte = register_module("wte", std::make_shared<layers::Embedding>(c.vocab_size, c.hidden_size, c.initializer_range));
    wpe = register_module("wpe", std::make_shared<layers::Embedding>(c.max_position_embeddings, c.hidden_size,
                                                                     c.initializer_range));
    h = register_module("h", torch::nn::ModuleList());
    for (int64_t i = 0; i < c.num_layers; ++i) {
      blocks.push_back(std::make_shared<Block>(c));
      h->push_back(blocks.back());
    }
    ln_f = register_module("ln_f", std::make_shared<LayerNorm>(c.hidden_size, c.norm_eps));
  }

  std::shared_ptr<layers::Embedding> wte, wpe;
  torch::nn::ModuleList h;
  std::vector<std::shared_ptr<Block>> blocks;
  std::shared_ptr<LayerNorm> ln_f;
};

class Gpt2 : public Backbone {
 public:
  explicit Gpt2(const BackboneConfig& config) : Backbone(resolved(config)) {
    transformer_ = register_module("transformer", std::make_shared<Transformer>(config_));
  }

  torch::Tensor embed(const torch::Tensor& ids) override { return transformer_->wte->forward(ids); }

  BackboneOutput forward(const torch::Tensor& embeds, const torch::Tensor& mask) override {
    layers::check_inputs(embeds, mask, config_.hidden_size);
    const int64_t batch = embeds.size(0), length = embeds.size(1);
    HMT_CHECK(length <= config_.max_position_embeddings, "gpt2: sequence of {} exceeds n_positions {}", length,
              config_.max_position_embeddings);
    const auto device = embeds.device();
    auto positions = layers::positions_from_mask(mask, batch, length, device);
    auto allowed = layers::attention_allowed(mask, batch, length, device);
    const bool training = is_training();

    auto h = layers::dropout(embeds + transformer_->wpe->forward(positions), config_.embd_pdrop, training);
    for (auto& block : transformer_->blocks) h = block->forward(h, allowed, training);
    return head(h);
  }

  BackboneOutput forward_cached(const torch::Tensor& embeds, KvCache& cache) override {
    layers::check_cached_inputs(embeds, config_.hidden_size);
    const int64_t batch = embeds.size(0), length = embeds.size(1), past = cache.length();
    HMT_CHECK(past + length <= config_.max_position_embeddings,
              "gpt2: {} cached + {} new positions exceed n_positions {}", past, length,
              config_.max_position_embeddings);
    const auto device = embeds.device();
    auto positions = layers::positions_after(past, batch, length, device);
    auto allowed = layers::cached_attention_allowed(past, length, device);
    const bool training = is_training();

    auto h = layers::dropout(embeds + transformer_->wpe->forward(positions), config_.embd_pdrop, training);
    int64_t index = 0;
    for (auto& block : transformer_->blocks) h = block->forward(h, allowed, training, &cache, index++);
    cache.advance(length);
    return head(h);
  }

 private:
  // Final LayerNorm and the head tied to wte.
  BackboneOutput head(torch::Tensor h) {
    h = transformer_->ln_f->forward(h);
    return {torch::linear(h, transformer_->wte->weight), h};
  }

  std::shared_ptr<Transformer> transformer_;
};

}  // namespace
}  // namespace gpt2_impl

std::shared_ptr<Backbone> make_gpt2(const BackboneConfig& config) { return std::make_shared<gpt2_impl::Gpt2>(config); }

}  // namespace hmt
