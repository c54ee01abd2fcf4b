// The llama family (llama, mistral, qwen2, SmolLM, OpenLLaMA) as HF
// LlamaForCausalLM computes it: pre-RMSNorm blocks, RoPE on q and k,
// grouped-query attention, SwiGLU MLP.
#include <cmath>
#include <tuple>

#include "core/error.h"
#include "model/backbone_families.h"
#include "model/layers.h"

namespace hmt {
// Named, not anonymous: in a unity batch the families' Attention and
// DecoderLayer must not meet.
namespace llama_impl {
namespace {

using layers::Linear;

BackboneConfig resolved(BackboneConfig config) {
  HMT_CHECK(config.vocab_size > 0 && config.hidden_size > 0 && config.num_layers > 0 && config.num_heads > 0 &&
                config.intermediate_size > 0,
            "llama: vocab_size, hidden_size, num_hidden_layers, num_attention_heads and intermediate_size "
            "must be positive");
  if (config.num_kv_heads <= 0) config.num_kv_heads = config.num_heads;
  if (config.head_dim <= 0) {
    HMT_CHECK(config.hidden_size % config.num_heads == 0, "llama: hidden_size {} not divisible by {} heads",
              config.hidden_size, config.num_heads);
    config.head_dim = config.hidden_size / config.num_heads;
  }
  HMT_CHECK(config.num_heads % config.num_kv_heads == 0,
            "llama: num_attention_heads {} not a multiple of num_key_value_heads {}", config.num_heads,
            config.num_kv_heads);
  HMT_CHECK(config.head_dim % 2 == 0, "llama: head_dim {} must be even for RoPE", config.head_dim);
  if (config.activation.empty()) config.activation = "silu";
  layers::check_activation(config.activation);
  return config;
}

struct Attention : torch::nn::Module {
  explicit Attention(const BackboneConfig& c)
      : heads(c.num_heads), kv_heads(c.num_kv_heads), head_dim(c.head_dim), dropout_p(c.attn_pdrop) {
    // qwen2 has q/k/v bias without o_proj bias; llama's attention_bias puts
    // a bias on all four.
    const bool qkv_bias = c.attention_bias || c.qkv_bias_only;
    const bool o_bias = c.attention_bias && !c.qkv_bias_only;
    const double init_std = c.initializer_range;
    const int64_t d = c.hidden_size, q_width = heads * head_dim, kv_width = kv_heads * head_dim;
    q_proj = register_module("q_proj", std::make_shared<Linear>(d, q_width, qkv_bias, init_std));
    k_proj = register_module("k_proj", std::make_shared<Linear>(d, kv_width, qkv_bias, init_std));
    v_proj = register_module("v_proj", std::make_shared<Linear>(d, kv_width, qkv_bias, init_std));
    o_proj = register_module("o_proj", std::make_shared<Linear>(q_width, d, o_bias, init_std));
  }

  // With a cache, k and v of x join the cached ones of this layer (keys are
  // cached after RoPE, at their absolute positions, as HF caches them).
  torch::Tensor forward(const torch::Tensor& x, const layers::RotaryTables& rope, const torch::Tensor& allowed,
                        bool training, KvCache* cache, int64_t layer) {
    auto q = layers::apply_rotary(layers::split_heads(q_proj->forward(x), heads, head_dim), rope);
    auto k = layers::apply_rotary(layers::split_heads(k_proj->forward(x), kv_heads, head_dim), rope);
    auto v = layers::split_heads(v_proj->forward(x), kv_heads, head_dim);
    if (cache) std::tie(k, v) = cache->extend(layer, k, v);
    auto out = layers::attend(q, k, v, allowed, /*score_scale=*/1.0 / std::sqrt(static_cast<double>(head_dim)),
                              dropout_p, training);
    return o_proj->forward(out);
  }

  int64_t heads, kv_heads, head_dim;
  double dropout_p;
  std::shared_ptr<Linear> q_proj, k_proj, v_proj, o_proj;
};

struct Mlp : torch::nn::Module {
  explicit Mlp(const BackboneConfig& c) : act(c.activation) {
    const double init_std = c.initializer_range;
    gate_proj = register_module("gate_proj",
                                std::make_shared<Linear>(c.hidden_size, c.intermediate_size, c.mlp_bias, init_std));
    up_proj = register_module("up_proj",
                              std::make_shared<Linear>(c.hidden_size, c.intermediate_size, c.mlp_bias, init_std));
    down_proj = register_module("down_proj",
                                std::make_shared<Linear>(c.intermediate_size, c.hidden_size, c.mlp_bias, init_std));
  }

  torch::Tensor forward(const torch::Tensor& x) {
    return down_proj->forward(layers::activation(gate_proj->forward(x), act) * up_proj->forward(x));
  }

  std::string act;
  std::shared_ptr<Linear> gate_proj, up_proj, down_proj;
};

struct DecoderLayer : torch::nn::Module {
  explicit DecoderLayer(const BackboneConfig& c) {
    self_attn = register_module("self_attn", std::make_shared<Attention>(c));
    mlp = register_module("mlp", std::make_shared<Mlp>(c));
    input_layernorm = register_module("input_layernorm", std::make_shared<layers::RMSNorm>(c.hidden_size, c.norm_eps));
    post_attention_layernorm = register_module("post_attention_layernorm",
                                               std::make_shared<layers::RMSNorm>(c.hidden_size, c.norm_eps));
  }

  torch::Tensor forward(const torch::Tensor& x, const layers::RotaryTables& rope, const torch::Tensor& allowed,
                        bool training, KvCache* cache = nullptr, int64_t layer = 0) {
    auto h = x + self_attn->forward(input_layernorm->forward(x), rope, allowed, training, cache, layer);
    return h + mlp->forward(post_attention_layernorm->forward(h));
  }

  std::shared_ptr<Attention> self_attn;
  std::shared_ptr<Mlp> mlp;
  std::shared_ptr<layers::RMSNorm> input_layernorm, post_attention_layernorm;
};

// HF's LlamaModel: the "model." prefix of every parameter name.
struct LlamaModel : torch::nn::Module {
  explicit LlamaModel(const BackboneConfig& c) {
    embed_tokens = register_module("embed_tokens",
                                   std::make_shared<layers::Embedding>(c.vocab_size, c.hidden_size, c.initializer_range,
                                                                       /*padding_idx=*/c.pad_token_id));
    layer_list = register_module("layers", torch::nn::ModuleList());
    for (int64_t i = 0; i < c.num_layers; ++i) {
      decoder_layers.push_back(std::make_shared<DecoderLayer>(c));
      layer_list->push_back(decoder_layers.back());
    }
    norm = register_module("norm", std::make_shared<layers::RMSNorm>(c.hidden_size, c.norm_eps));
  }

  std::shared_ptr<layers::Embedding> embed_tokens;
  torch::nn::ModuleList layer_list;
  std::vector<std::shared_ptr<DecoderLayer>> decoder_layers;
  std::shared_ptr<layers::RMSNorm> norm;
};

class Llama : public Backbone {
 public:
  explicit Llama(const BackboneConfig& config) : Backbone(resolved(config)) {
    model_ = register_module("model", std::make_shared<LlamaModel>(config_));
    // Tied: logits reuse model.embed_tokens.weight and no lm_head parameter
    // exists, as in HF checkpoints (lm_head.weight absent or a duplicate).
    if (!config_.tie_word_embeddings) {
      lm_head_ = register_module("lm_head", std::make_shared<Linear>(config_.hidden_size, config_.vocab_size,
                                                                     /*with_bias=*/false, config_.initializer_range));
    }
  }

  torch::Tensor embed(const torch::Tensor& ids) override { return model_->embed_tokens->forward(ids); }

  BackboneOutput forward(const torch::Tensor& embeds, const torch::Tensor& mask) override {
    layers::check_inputs(embeds, mask, config_.hidden_size);
    const int64_t batch = embeds.size(0), length = embeds.size(1);
    const auto device = embeds.device();
    auto positions = layers::positions_from_mask(mask, batch, length, device);
    auto allowed = layers::attention_allowed(mask, batch, length, device);
    auto rope = layers::rotary_tables(positions, config_.head_dim, config_.rope_theta, embeds.scalar_type());
    const bool training = is_training();

    auto h = embeds;
    for (auto& layer : model_->decoder_layers) h = layer->forward(h, rope, allowed, training);
    return head(h);
  }

  BackboneOutput forward_cached(const torch::Tensor& embeds, KvCache& cache) override {
    layers::check_cached_inputs(embeds, config_.hidden_size);
    const int64_t batch = embeds.size(0), length = embeds.size(1), past = cache.length();
    const auto device = embeds.device();
    auto positions = layers::positions_after(past, batch, length, device);
    auto allowed = layers::cached_attention_allowed(past, length, device);
    auto rope = layers::rotary_tables(positions, config_.head_dim, config_.rope_theta, embeds.scalar_type());
    const bool training = is_training();

    auto h = embeds;
    int64_t index = 0;
    for (auto& layer : model_->decoder_layers) h = layer->forward(h, rope, allowed, training, &cache, index++);
    cache.advance(length);
    return head(h);
  }

 private:
  // Final norm and the LM head (tied or not) over the last block's output.
  BackboneOutput head(torch::Tensor h) {
    h = model_->norm->forward(h);
    auto logits = lm_head_ ? lm_head_->forward(h) : torch::linear(h, model_->embed_tokens->weight);
    return {logits, h};
  }

  std::shared_ptr<LlamaModel> model_;
  std::shared_ptr<Linear> lm_head_;
};

}  // namespace
}  // namespace llama_impl

std::shared_ptr<Backbone> make_llama(const BackboneConfig& config) {
  return std::make_shared<llama_impl::Llama>(config);
}

}  // namespace hmt
