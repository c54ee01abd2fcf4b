#include "model/scratch_config.h"

#include "core/error.h"

namespace hmt {

nlohmann::json scratch_hf_json(const ModelConfig& m) {
  HMT_CHECK(!m.type.empty(), "model.type is required for a from-scratch backbone (or set model.pretrained)");
  const int64_t kv_heads = m.num_kv_heads > 0 ? m.num_kv_heads : m.num_heads;
  nlohmann::json j;
  if (m.type == "llama") {
    j = {{"model_type", "llama"},
         {"architectures", {"LlamaForCausalLM"}},
         {"vocab_size", m.vocab_size},
         {"hidden_size", m.hidden_size},
         {"num_hidden_layers", m.num_layers},
         {"num_attention_heads", m.num_heads},
         {"num_key_value_heads", kv_heads},
         // Llama's SwiGLU keeps parameters near a 4x MLP with 8/3 x width.
         {"intermediate_size", m.intermediate_size > 0 ? m.intermediate_size : (8 * m.hidden_size / 3 + 63) / 64 * 64},
         {"max_position_embeddings", m.max_position_embeddings},
         {"rms_norm_eps", 1e-5},
         {"rope_theta", m.rope_theta},
         {"hidden_act", "silu"},
         {"tie_word_embeddings", m.tie_word_embeddings},
         {"attention_dropout", m.dropout},
         {"initializer_range", 0.02}};
  } else if (m.type == "gpt2") {
    HMT_CHECK(m.tie_word_embeddings, "model.tie_word_embeddings: gpt2 always ties its embeddings");
    j = {{"model_type", "gpt2"},
         {"architectures", {"GPT2LMHeadModel"}},
         {"vocab_size", m.vocab_size},
         {"n_embd", m.hidden_size},
         {"n_layer", m.num_layers},
         {"n_head", m.num_heads},
         {"n_inner", m.intermediate_size > 0 ? nlohmann::json(m.intermediate_size) : nlohmann::json(nullptr)},
         {"n_positions", m.max_position_embeddings},
         {"activation_function", "gelu_new"},
         {"layer_norm_epsilon", 1e-5},
         {"resid_pdrop", m.dropout},
         {"embd_pdrop", m.dropout},
         {"attn_pdrop", m.dropout},
         {"initializer_range", 0.02}};
  } else if (m.type == "opt") {
    j = {{"model_type", "opt"},
         {"architectures", {"OPTForCausalLM"}},
         {"vocab_size", m.vocab_size},
         {"hidden_size", m.hidden_size},
         {"num_hidden_layers", m.num_layers},
         {"num_attention_heads", m.num_heads},
         {"ffn_dim", m.intermediate_size > 0 ? m.intermediate_size : 4 * m.hidden_size},
         {"max_position_embeddings", m.max_position_embeddings},
         {"do_layer_norm_before", m.do_layer_norm_before},
         {"word_embed_proj_dim", m.word_embed_proj_dim > 0 ? m.word_embed_proj_dim : m.hidden_size},
         {"activation_function", "relu"},
         {"dropout", m.dropout},
         {"attention_dropout", m.dropout},
         {"enable_bias", true},
         {"tie_word_embeddings", m.tie_word_embeddings},
         {"init_std", 0.02}};
  } else {
    fail("model.type: unsupported backbone type '{}' (llama, gpt2, opt)", m.type);
  }
  j["torch_dtype"] = "float32";
  return j;
}

BackboneConfig scratch_backbone_config(const ModelConfig& model) {
  return parse_hf_config(scratch_hf_json(model), "the experiment's model section");
}

}  // namespace hmt
