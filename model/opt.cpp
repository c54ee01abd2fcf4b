// OPT as HF OPTForCausalLM computes it: learned positions offset by 2,
// optional project_in/project_out around a pre-LN (most sizes) or post-LN
// (OPT-350M, do_layer_norm_before=false) decoder, ReLU MLP.
#include <cmath>
#include <tuple>

#include "core/error.h"
#include "model/backbone_families.h"
#include "model/layers.h"

namespace hmt {
// Named, not anonymous: in a unity batch the families' Attention and
// DecoderLayer must not meet.
namespace opt_impl {
namespace {

using layers::LayerNorm;
using layers::Linear;

// OPTLearnedPositionalEmbedding's table has two extra leading rows (a
// fairseq leftover); position p reads row p + 2.
constexpr int64_t kPositionOffset = 2;

BackboneConfig resolved(BackboneConfig config) {
  HMT_CHECK(config.vocab_size > 0 && config.hidden_size > 0 && config.num_layers > 0 && config.num_heads > 0 &&
                config.intermediate_size > 0 && config.max_position_embeddings > 0,
            "opt: vocab_size, hidden_size, num_hidden_layers, num_attention_heads, ffn_dim and "
            "max_position_embeddings must be positive");
  HMT_CHECK(config.hidden_size % config.num_heads == 0, "opt: hidden_size {} not divisible by {} heads",
            config.hidden_size, config.num_heads);
  config.head_dim = config.hidden_size / config.num_heads;
  config.num_kv_heads = config.num_heads;
  if (config.word_embed_proj_dim <= 0) config.word_embed_proj_dim = config.hidden_size;
  if (config.activation.empty()) config.activation = "relu";
  layers::check_activation(config.activation);
  return config;
}

struct Attention : torch::nn::Module {
  explicit Attention(const BackboneConfig& c) : heads(c.num_heads), head_dim(c.head_dim), dropout_p(c.attn_pdrop) {
    const int64_t d = c.hidden_size;
    const double init_std = c.initializer_range;
    k_proj = register_module("k_proj", std::make_shared<Linear>(d, d, /*with_bias=*/true, init_std));
    v_proj = register_module("v_proj", std::make_shared<Linear>(d, d, /*with_bias=*/true, init_std));
    q_proj = register_module("q_proj", std::make_shared<Linear>(d, d, /*with_bias=*/true, init_std));
    out_proj = register_module("out_proj", std::make_shared<Linear>(d, d, /*with_bias=*/true, init_std));
  }

  // With a cache, k and v of x join the cached ones of this layer.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& allowed, bool training, KvCache* cache,
                        int64_t layer) {
    // HF scales q before the product (not the scores); kept for identical rounding.
    const double scale = 1.0 / std::sqrt(static_cast<double>(head_dim));
    auto q = layers::split_heads(q_proj->forward(x) * scale, heads, head_dim);
    auto k = layers::split_heads(k_proj->forward(x), heads, head_dim);
    auto v = layers::split_heads(v_proj->forward(x), heads, head_dim);
    if (cache) std::tie(k, v) = cache->extend(layer, k, v);
    auto out = layers::attend(q, k, v, allowed, /*score_scale=*/1.0, dropout_p, training);
    return out_proj->forward(out);
  }

  int64_t heads, head_dim;
  double dropout_p;
  std::shared_ptr<Linear> k_proj, v_proj, q_proj, out_proj;
};

struct DecoderLayer : torch::nn::Module {
  explicit DecoderLayer(const BackboneConfig& c)
      : norm_before(c.do_layer_norm_before), act(c.activation), dropout_p(c.resid_pdrop) {
    const double init_std = c.initializer_range;
    const int64_t d = c.hidden_size, ffn = c.intermediate_size;
    self_attn = register_module("self_attn", std::make_shared<Attention>(c));
    self_attn_layer_norm = register_module("self_attn_layer_norm", std::make_shared<LayerNorm>(d, c.norm_eps));
    fc1 = register_module("fc1", std::make_shared<Linear>(d, ffn, /*with_bias=*/true, init_std));
    fc2 = register_module("fc2", std::make_shared<Linear>(ffn, d, /*with_bias=*/true, init_std));
    final_layer_norm = register_module("final_layer_norm", std::make_shared<LayerNorm>(d, c.norm_eps));
  }

  // HF OPTDecoderLayer: each norm sits before its sublayer (pre-LN) or after
  // the residual sum (post-LN); dropout hits each sublayer's output.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& allowed, bool training, KvCache* cache = nullptr,
                        int64_t layer = 0) {
    auto a = norm_before ? self_attn_layer_norm->forward(x) : x;
    auto h = x + layers::dropout(self_attn->forward(a, allowed, training, cache, layer), dropout_p, training);
    if (!norm_before) h = self_attn_layer_norm->forward(h);

    auto f = norm_before ? final_layer_norm->forward(h) : h;
    f = fc2->forward(layers::activation(fc1->forward(f), act));
    h = h + layers::dropout(f, dropout_p, training);
    if (!norm_before) h = final_layer_norm->forward(h);
    return h;
  }

  bool norm_before;
  std::string act;
  double dropout_p;
  std::shared_ptr<Attention> self_attn;
  std::shared_ptr<LayerNorm> self_attn_layer_norm, final_layer_norm;
  std::shared_ptr<Linear> fc1, fc2;
};

// HF's OPTDecoder: the "model.decoder." prefix of every parameter name.
struct Decoder : torch::nn::Module {
  explicit Decoder(const BackboneConfig& c) {
    const double init_std = c.initializer_range;
    embed_tokens = register_module("embed_tokens",
                                   std::make_shared<layers::Embedding>(c.vocab_size, c.word_embed_proj_dim, init_std,
                                                                       /*padding_idx=*/c.pad_token_id));
    embed_positions = register_module("embed_positions",
                                      std::make_shared<layers::Embedding>(c.max_position_embeddings + kPositionOffset,
                                                                          c.hidden_size, init_std));
    if (c.word_embed_proj_dim != c.hidden_size) {
      project_out = register_module("project_out", std::make_shared<Linear>(c.hidden_size, c.word_embed_proj_dim,
                                                                            /*with_bias=*/false, init_std));
      project_in = register_module("project_in", std::make_shared<Linear>(c.word_embed_proj_dim, c.hidden_size,
                                                                          /*with_bias=*/false, init_std));
    }
    if (c.do_layer_norm_before) {
      final_layer_norm = register_module("final_layer_norm", std::make_shared<LayerNorm>(c.hidden_size, c.norm_eps));
    }
    layer_list = register_module("layers", torch::nn::ModuleList());
    for (int64_t i = 0; i < c.num_layers; ++i) {
      decoder_layers.push_back(std::make_shared<DecoderLayer>(c));
      layer_list->push_back(decoder_layers.back());
    }
  }

  std::shared_ptr<layers::Embedding> embed_tokens, embed_positions;
  std::shared_ptr<Linear> project_in, project_out;  // null when word_embed_proj_dim == hidden_size
  std::shared_ptr<LayerNorm> final_layer_norm;      // null for post-LN models
  torch::nn::ModuleList layer_list;
  std::vector<std::shared_ptr<DecoderLayer>> decoder_layers;
};

struct OptModel : torch::nn::Module {
  explicit OptModel(const BackboneConfig& c) { decoder = register_module("decoder", std::make_shared<Decoder>(c)); }
  std::shared_ptr<Decoder> decoder;
};

class Opt : public Backbone {
 public:
  explicit Opt(const BackboneConfig& config) : Backbone(resolved(config)) {
    model_ = register_module("model", std::make_shared<OptModel>(config_));
    if (!config_.tie_word_embeddings) {
      lm_head_ = register_module("lm_head", std::make_shared<Linear>(config_.word_embed_proj_dim, config_.vocab_size,
                                                                     /*with_bias=*/false, config_.initializer_range));
    }
  }

  torch::Tensor embed(const torch::Tensor& ids) override { return model_->decoder->embed_tokens->forward(ids); }

  BackboneOutput forward(const torch::Tensor& embeds, const torch::Tensor& mask) override {
    auto& dec = *model_->decoder;
    layers::check_inputs(embeds, mask, config_.word_embed_proj_dim);
    const int64_t batch = embeds.size(0), length = embeds.size(1);
    HMT_CHECK(length <= config_.max_position_embeddings, "opt: sequence of {} exceeds max_position_embeddings {}",
              length, config_.max_position_embeddings);
    const auto device = embeds.device();
    auto positions = layers::positions_from_mask(mask, batch, length, device) + kPositionOffset;
    auto allowed = layers::attention_allowed(mask, batch, length, device);
    const bool training = is_training();

    auto h = dec.project_in ? dec.project_in->forward(embeds) : embeds;
    h = h + dec.embed_positions->forward(positions);
    for (auto& layer : dec.decoder_layers) h = layer->forward(h, allowed, training);
    return head(h);
  }

  BackboneOutput forward_cached(const torch::Tensor& embeds, KvCache& cache) override {
    auto& dec = *model_->decoder;
    layers::check_cached_inputs(embeds, config_.word_embed_proj_dim);
    const int64_t batch = embeds.size(0), length = embeds.size(1), past = cache.length();
    HMT_CHECK(past + length <= config_.max_position_embeddings,
              "opt: {} cached + {} new positions exceed max_position_embeddings {}", past, length,
              config_.max_position_embeddings);
    const auto device = embeds.device();
    auto positions = layers::positions_after(past, batch, length, device) + kPositionOffset;
    auto allowed = layers::cached_attention_allowed(past, length, device);
    const bool training = is_training();

    auto h = dec.project_in ? dec.project_in->forward(embeds) : embeds;
    h = h + dec.embed_positions->forward(positions);
    int64_t index = 0;
    for (auto& layer : dec.decoder_layers) h = layer->forward(h, allowed, training, &cache, index++);
    cache.advance(length);
    return head(h);
  }

 private:
  // Final norm (pre-LN only), project_out and the LM head.
  BackboneOutput head(torch::Tensor h) {
    auto& dec = *model_->decoder;
    if (dec.final_layer_norm) h = dec.final_layer_norm->forward(h);
    if (dec.project_out) h = dec.project_out->forward(h);
    auto logits = lm_head_ ? lm_head_->forward(h) : torch::linear(h, dec.embed_tokens->weight);
    return {logits, h};
  }

  std::shared_ptr<OptModel> model_;
  std::shared_ptr<Linear> lm_head_;
};

}  // namespace
}  // namespace opt_impl

std::shared_ptr<Backbone> make_opt(const BackboneConfig& config) { return std::make_shared<opt_impl::Opt>(config); }

}  // namespace hmt
