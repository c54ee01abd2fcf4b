#include "model/scratch_config.h"

#include "core/error.h"

namespace hmt {

nlohmann::json scratch_hf_json(const ModelConfig& m) {
  HMT_CHECK(m.from_scratch(), "model.type is required for a from-scratch backbone (or set model.pretrained)");
  const std::string type = *m.type;
  const int64_t vocab_size = m.vocab_size.value(), hidden_size = m.hidden_size.value();
  const int64_t num_layers = m.num_layers.value(), num_heads = m.num_heads.value();

  nlohmann::json j;
  if (type == "llama") {
    j = {{"model_type", "llama"},
         {"architectures", {"LlamaForCausalLM"}},
         {"vocab_size", vocab_size},
         {"hidden_size", hidden_size},
         {"num_hidden_layers", num_layers},
         {"num_attention_heads", num_heads},
         {"num_key_value_heads", m.kv_heads()},
         // Llama's SwiGLU keeps parameters near a 4x MLP with 8/3 x width.
         {"intermediate_size", m.intermediate_size > 0 ? m.intermediate_size : (8 * hidden_size / 3 + 63) / 64 * 64},
         {"max_position_embeddings", m.max_position_embeddings},
         {"rms_norm_eps", 1e-5},
         {"rope_theta", m.rope_theta},
         {"hidden_act", "silu"},
         {"tie_word_embeddings", m.tie_word_embeddings},
         {"attention_dropout", m.dropout},
         {"initializer_range", 0.02}};
  } else if (type == "gpt2") {
    HMT_CHECK(m.tie_word_embeddings, "model.tie_word_embeddings: gpt2 always ties its embeddings");
    j = {{"model_type", "gpt2"},
         {"architectures", {"GPT2LMHeadModel"}},
         {"vocab_size", vocab_size},
         {"n_embd", hidden_size},
         {"n_layer", num_layers},
         {"n_head", num_heads},
         {"n_inner", m.intermediate_size > 0 ? nlohmann::json(m.intermediate_size) : nlohmann::json(nullptr)},
         {"n_positions", m.max_position_embeddings},
         {"activation_function", "gelu_new"},
         {"layer_norm_epsilon", 1e-5},
         {"resid_pdrop", m.dropout},
         {"embd_pdrop", m.dropout},
         {"attn_pdrop", m.dropout},
         {"initializer_range", 0.02}};
  } else if (type == "opt") {
    j = {{"model_type", "opt"},
         {"architectures", {"OPTForCausalLM"}},
         {"vocab_size", vocab_size},
         {"hidden_size", hidden_size},
         {"num_hidden_layers", num_layers},
         {"num_attention_heads", num_heads},
         {"ffn_dim", m.intermediate_size > 0 ? m.intermediate_size : 4 * hidden_size},
         {"max_position_embeddings", m.max_position_embeddings},
         {"do_layer_norm_before", m.do_layer_norm_before},
         {"word_embed_proj_dim", m.word_embed_proj_dim > 0 ? m.word_embed_proj_dim : hidden_size},
         {"activation_function", "relu"},
         {"dropout", m.dropout},
         {"attention_dropout", m.dropout},
         {"enable_bias", true},
         {"tie_word_embeddings", m.tie_word_embeddings},
         {"init_std", 0.02}};
  } else {
    fail("model.type: unsupported backbone type '{}' (llama, gpt2, opt)", type);
  }
  j["torch_dtype"] = "float32";
  return j;
}

BackboneConfig scratch_backbone_config(const ModelConfig& model) {
  return parse_hf_config(scratch_hf_json(model), "the experiment's model section");
}

}  // namespace hmt
