#pragma once
// The backbone's HuggingFace config.json, parsed into one typed struct for
// the three families (docs/hmt.md section 1). Keys we do not model are kept in
// `raw` so that saving writes back what was loaded.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace hmt {

enum class Family { Llama, Gpt2, Opt };

struct BackboneConfig {
  std::string model_type;  // as in config.json: llama, mistral, qwen2, gpt2, opt
  Family family = Family::Llama;

  int64_t vocab_size = 0;
  int64_t hidden_size = 0;              // llama hidden_size, gpt2 n_embd, opt hidden_size
  int64_t num_layers = 0;               // num_hidden_layers / n_layer
  int64_t num_heads = 0;                // num_attention_heads / n_head
  int64_t num_kv_heads = 0;             // llama num_key_value_heads (= num_heads when absent)
  int64_t intermediate_size = 0;        // llama intermediate_size, gpt2 n_inner (4*n_embd), opt ffn_dim
  int64_t max_position_embeddings = 0;  // gpt2 n_positions
  int64_t head_dim = 0;                 // hidden_size / num_heads unless config.json sets head_dim

  double norm_eps = 1e-5;  // rms_norm_eps / layer_norm_epsilon (opt: 1e-5)
  double rope_theta = 10000.0;
  double initializer_range = 0.02;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // llama family only: q/k/v/o bias (llama attention_bias; qwen2 q/k/v)
  bool qkv_bias_only = false;   // qwen2: bias on q/k/v but not o_proj
  bool mlp_bias = false;        // llama family only: llama mlp_bias

  // Dropout probabilities (active only in training mode).
  double embd_pdrop = 0.0;   // gpt2 embd_pdrop
  double resid_pdrop = 0.0;  // gpt2 resid_pdrop, opt dropout
  double attn_pdrop = 0.0;   // gpt2 attn_pdrop, opt/llama attention_dropout

  // OPT only.
  bool do_layer_norm_before = true;
  int64_t word_embed_proj_dim = 0;  // = hidden_size unless project_in/out exist

  std::string activation;  // hidden_act / activation_function

  int64_t bos_token_id = -1, eos_token_id = -1, pad_token_id = -1;  // -1: none

  nlohmann::json raw;  // the full config.json as read (or as built)

  // Width of embed(): OPT's word_embed_proj_dim, else hidden_size.
  int64_t embed_dim() const;
  std::string family_name() const;
};

// Parses config.json text; `source` names the file in errors. Throws
// hmt::Error for an unsupported model_type or a missing/invalid key.
BackboneConfig parse_hf_config(const nlohmann::json& json, const std::string& source);
BackboneConfig load_hf_config(const std::string& path);
// The config.json to write beside model.safetensors (raw merged with the
// typed fields, so a loaded config round-trips).
nlohmann::json to_hf_json(const BackboneConfig& config);

// The first typed field (not `raw`) in which a and b differ, as
// "field: a vs b"; empty when they agree. parse_hf_config(to_hf_json(c))
// agrees with c whenever to_hf_json(c) succeeds.
std::string config_difference(const BackboneConfig& a, const BackboneConfig& b);

// One line for logs: family, model_type, sizes and the parameter count.
std::string describe(const BackboneConfig& config);
// Parameters of the backbone built from `config` (tied embeddings once).
int64_t parameter_count(const BackboneConfig& config);

}  // namespace hmt
