#include "model/hf_config.h"

#include <fstream>
#include <sstream>

#include "core/error.h"

namespace hmt {
namespace {

using nlohmann::json;

// Typed access to config.json; every error names the file and the key.
struct Keys {
  const json& j;
  const std::string& source;

  bool has(const char* key) const { return j.contains(key) && !j[key].is_null(); }

  int64_t integer(const char* key) const {
    if (!j.contains(key)) fail("{}: missing required key \"{}\"", source, key);
    const json& v = j[key];
    if (!v.is_number_integer()) fail("{}: key \"{}\" must be an integer, got {}", source, key, v.dump());
    return v.get<int64_t>();
  }
  int64_t positive(const char* key) const {
    int64_t v = integer(key);
    if (v <= 0) fail("{}: key \"{}\" must be positive, got {}", source, key, v);
    return v;
  }
  int64_t integer_or(const char* key, int64_t fallback) const { return has(key) ? integer(key) : fallback; }
  double number_or(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    if (!j[key].is_number()) fail("{}: key \"{}\" must be a number, got {}", source, key, j[key].dump());
    return j[key].get<double>();
  }
  bool boolean_or(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    if (!j[key].is_boolean()) fail("{}: key \"{}\" must be true or false, got {}", source, key, j[key].dump());
    return j[key].get<bool>();
  }
  std::string string_or(const char* key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    if (!j[key].is_string()) fail("{}: key \"{}\" must be a string, got {}", source, key, j[key].dump());
    return j[key].get<std::string>();
  }
  // Token ids may be null (none) or, in newer configs, a list (the first
  // one is the id we generate with).
  int64_t token_id(const char* key, int64_t fallback) const {
    if (!j.contains(key)) return fallback;
    const json& v = j[key];
    if (v.is_null()) return -1;
    if (v.is_array() && !v.empty() && v[0].is_number_integer()) return v[0].get<int64_t>();
    if (!v.is_number_integer()) fail("{}: key \"{}\" must be a token id, got {}", source, key, v.dump());
    return v.get<int64_t>();
  }
  void reject(const char* key, const std::string& why) const {
    fail("{}: {} = {} is not supported: {}", source, key, j[key].dump(), why);
  }
};

// Defaults below are those of the transformers config classes
// (LlamaConfig, MistralConfig, Qwen2Config, GPT2Config, OPTConfig).
void parse_llama_like(const Keys& k, BackboneConfig& c) {
  const std::string& type = c.model_type;
  c.family = Family::Llama;
  c.vocab_size = k.positive("vocab_size");
  c.hidden_size = k.positive("hidden_size");
  c.intermediate_size = k.positive("intermediate_size");
  c.num_layers = k.positive("num_hidden_layers");
  c.num_heads = k.positive("num_attention_heads");
  const int64_t default_kv = type == "mistral" ? 8 : type == "qwen2" ? 32 : c.num_heads;
  // An explicit null means "same as num_attention_heads" in all three classes.
  c.num_kv_heads = k.j.contains("num_key_value_heads") ? k.integer_or("num_key_value_heads", c.num_heads) : default_kv;
  if (c.num_kv_heads <= 0 || c.num_heads % c.num_kv_heads != 0)
    fail("{}: num_attention_heads {} is not a multiple of num_key_value_heads {}", k.source, c.num_heads,
         c.num_kv_heads);
  if (!k.has("head_dim") && c.hidden_size % c.num_heads != 0)
    fail("{}: hidden_size {} is not divisible by num_attention_heads {}", k.source, c.hidden_size, c.num_heads);
  c.head_dim = k.has("head_dim") ? k.positive("head_dim") : c.hidden_size / c.num_heads;
  c.max_position_embeddings = k.integer_or("max_position_embeddings", type == "mistral" ? 4096 * 32
                                                                      : type == "qwen2" ? 32768
                                                                                        : 2048);
  c.norm_eps = k.number_or("rms_norm_eps", 1e-6);
  c.rope_theta = k.number_or("rope_theta", 10000.0);
  c.initializer_range = k.number_or("initializer_range", 0.02);
  c.tie_word_embeddings = k.boolean_or("tie_word_embeddings", false);
  c.attn_pdrop = k.number_or("attention_dropout", 0.0);
  c.activation = k.string_or("hidden_act", "silu");
  c.bos_token_id = k.token_id("bos_token_id", type == "qwen2" ? -1 : 1);
  c.eos_token_id = k.token_id("eos_token_id", type == "qwen2" ? -1 : 2);
  c.pad_token_id = k.token_id("pad_token_id", -1);
  if (k.has("rope_scaling")) k.reject("rope_scaling", "only plain RoPE is implemented");

  if (type == "llama") {
    c.attention_bias = k.boolean_or("attention_bias", false);
    c.mlp_bias = k.boolean_or("mlp_bias", false);
  } else if (type == "qwen2") {
    c.attention_bias = true;  // Qwen2Attention: q/k/v with bias, o_proj without
    c.qkv_bias_only = true;
    if (k.boolean_or("use_sliding_window", false) && k.has("sliding_window") &&
        k.integer("sliding_window") < c.max_position_embeddings)
      k.reject("sliding_window", "sliding-window attention is not implemented (set use_sliding_window false)");
  }
  if (type == "mistral") {
    // A window as long as the longest sequence never masks anything.
    const int64_t window = k.j.contains("sliding_window") ? k.integer_or("sliding_window", -1) : 4096;
    if (window >= 0 && window < c.max_position_embeddings)
      fail("{}: sliding_window = {} is not supported: sliding-window attention is not implemented; only "
           "sliding_window null (or >= max_position_embeddings {}) loads",
           k.source, window, c.max_position_embeddings);
  }
}

void parse_gpt2(const Keys& k, BackboneConfig& c) {
  c.family = Family::Gpt2;
  c.vocab_size = k.positive("vocab_size");
  c.hidden_size = k.positive("n_embd");
  c.num_layers = k.positive("n_layer");
  c.num_heads = k.positive("n_head");
  if (c.hidden_size % c.num_heads != 0)
    fail("{}: n_embd {} is not divisible by n_head {}", k.source, c.hidden_size, c.num_heads);
  c.num_kv_heads = c.num_heads;
  c.head_dim = c.hidden_size / c.num_heads;
  c.intermediate_size = k.has("n_inner") ? k.positive("n_inner") : 4 * c.hidden_size;
  c.max_position_embeddings = k.integer_or("n_positions", 1024);
  c.norm_eps = k.number_or("layer_norm_epsilon", 1e-5);
  c.initializer_range = k.number_or("initializer_range", 0.02);
  c.activation = k.string_or("activation_function", "gelu_new");
  c.resid_pdrop = k.number_or("resid_pdrop", 0.1);
  c.embd_pdrop = k.number_or("embd_pdrop", 0.1);
  c.attn_pdrop = k.number_or("attn_pdrop", 0.1);
  c.bos_token_id = k.token_id("bos_token_id", 50256);
  c.eos_token_id = k.token_id("eos_token_id", 50256);
  c.pad_token_id = k.token_id("pad_token_id", -1);
  c.tie_word_embeddings = true;
  if (!k.boolean_or("tie_word_embeddings", true))
    k.reject("tie_word_embeddings", "the gpt2 family always ties lm_head to wte");
  if (!k.boolean_or("scale_attn_weights", true))
    k.reject("scale_attn_weights", "attention is always scaled by 1/sqrt(head_dim)");
  if (k.boolean_or("scale_attn_by_inverse_layer_idx", false))
    k.reject("scale_attn_by_inverse_layer_idx", "per-layer attention scaling is not implemented");
}

void parse_opt(const Keys& k, BackboneConfig& c) {
  c.family = Family::Opt;
  c.vocab_size = k.positive("vocab_size");
  c.hidden_size = k.positive("hidden_size");
  c.num_layers = k.positive("num_hidden_layers");
  c.num_heads = k.positive("num_attention_heads");
  c.intermediate_size = k.positive("ffn_dim");
  if (c.hidden_size % c.num_heads != 0)
    fail("{}: hidden_size {} is not divisible by num_attention_heads {}", k.source, c.hidden_size, c.num_heads);
  c.num_kv_heads = c.num_heads;
  c.head_dim = c.hidden_size / c.num_heads;
  c.max_position_embeddings = k.integer_or("max_position_embeddings", 2048);
  c.do_layer_norm_before = k.boolean_or("do_layer_norm_before", true);
  c.word_embed_proj_dim = k.has("word_embed_proj_dim") ? k.positive("word_embed_proj_dim") : c.hidden_size;
  c.norm_eps = 1e-5;  // nn.LayerNorm's default; OPTConfig has no key for it
  c.initializer_range = k.number_or("init_std", 0.02);
  c.activation = k.string_or("activation_function", "relu");
  c.resid_pdrop = k.number_or("dropout", 0.1);
  c.attn_pdrop = k.number_or("attention_dropout", 0.0);
  c.embd_pdrop = 0.0;  // OPTDecoder adds positions without a dropout
  c.tie_word_embeddings = k.boolean_or("tie_word_embeddings", true);
  c.bos_token_id = k.token_id("bos_token_id", 2);
  c.eos_token_id = k.token_id("eos_token_id", 2);
  c.pad_token_id = k.token_id("pad_token_id", 1);
  if (!k.boolean_or("enable_bias", true)) k.reject("enable_bias", "OPT layers always carry biases here");
  if (!k.boolean_or("layer_norm_elementwise_affine", true))
    k.reject("layer_norm_elementwise_affine", "LayerNorms always have weight and bias here");
  if (k.boolean_or("_remove_final_layer_norm", false))
    k.reject("_remove_final_layer_norm", "only the fairseq-converted layout with a final LayerNorm is implemented");
}

const char* architecture(const std::string& model_type) {
  if (model_type == "llama") return "LlamaForCausalLM";
  if (model_type == "mistral") return "MistralForCausalLM";
  if (model_type == "qwen2") return "Qwen2ForCausalLM";
  if (model_type == "gpt2") return "GPT2LMHeadModel";
  return "OPTForCausalLM";
}

json token(int64_t id) { return id < 0 ? json(nullptr) : json(id); }

// Keeps a list-valued id from the loaded file when its first entry still
// equals the typed one, so round trips do not drop the extra ids.
void put_token(json& j, const char* key, int64_t id) {
  if (j.contains(key) && j[key].is_array() && !j[key].empty() && j[key][0] == json(id)) return;
  j[key] = token(id);
}

std::string default_model_type(Family family) {
  switch (family) {
    case Family::Llama: return "llama";
    case Family::Gpt2: return "gpt2";
    case Family::Opt: return "opt";
  }
  return "llama";
}

}  // namespace

int64_t BackboneConfig::embed_dim() const {
  return family == Family::Opt && word_embed_proj_dim > 0 ? word_embed_proj_dim : hidden_size;
}

std::string BackboneConfig::family_name() const { return default_model_type(family); }

BackboneConfig parse_hf_config(const nlohmann::json& j, const std::string& source) {
  if (!j.is_object()) fail("{}: config is not a JSON object", source);
  if (!j.contains("model_type") || !j["model_type"].is_string())
    fail("{}: missing required key \"model_type\" (one of llama, mistral, qwen2, gpt2, opt)", source);
  BackboneConfig c;
  c.model_type = j["model_type"].get<std::string>();
  c.raw = j;
  Keys k{j, source};
  if (c.model_type == "llama" || c.model_type == "mistral" || c.model_type == "qwen2") parse_llama_like(k, c);
  else if (c.model_type == "gpt2") parse_gpt2(k, c);
  else if (c.model_type == "opt") parse_opt(k, c);
  else
    fail("{}: unsupported model_type \"{}\"; supported: llama, mistral, qwen2 (llama family), gpt2, opt", source,
         c.model_type);
  return c;
}

BackboneConfig load_hf_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("{}: cannot open config.json", path);
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    fail("{}: invalid JSON: {}", path, e.what());
  }
  return parse_hf_config(j, path);
}

nlohmann::json to_hf_json(const BackboneConfig& config) {
  BackboneConfig c = config;
  if (c.model_type.empty()) c.model_type = default_model_type(c.family);
  // Zero means "derived", as when the key is absent from config.json.
  if (c.num_kv_heads == 0) c.num_kv_heads = c.num_heads;
  if (c.head_dim == 0 && c.num_heads > 0) c.head_dim = c.hidden_size / c.num_heads;
  if (c.family == Family::Opt && c.word_embed_proj_dim == 0) c.word_embed_proj_dim = c.hidden_size;

  json j = c.raw.is_object() ? c.raw : json::object();
  j["model_type"] = c.model_type;
  if (!j.contains("architectures")) j["architectures"] = {architecture(c.model_type)};
  if (!j.contains("torch_dtype")) j["torch_dtype"] = "float32";
  j["vocab_size"] = c.vocab_size;
  j["initializer_range"] = c.initializer_range;
  put_token(j, "bos_token_id", c.bos_token_id);
  put_token(j, "eos_token_id", c.eos_token_id);
  put_token(j, "pad_token_id", c.pad_token_id);
  switch (c.family) {
    case Family::Llama:
      j["hidden_size"] = c.hidden_size;
      j["intermediate_size"] = c.intermediate_size;
      j["num_hidden_layers"] = c.num_layers;
      j["num_attention_heads"] = c.num_heads;
      j["num_key_value_heads"] = c.num_kv_heads;
      if (j.contains("head_dim") || c.head_dim * c.num_heads != c.hidden_size) j["head_dim"] = c.head_dim;
      j["max_position_embeddings"] = c.max_position_embeddings;
      j["rms_norm_eps"] = c.norm_eps;
      j["rope_theta"] = c.rope_theta;
      j["tie_word_embeddings"] = c.tie_word_embeddings;
      j["attention_dropout"] = c.attn_pdrop;
      j["hidden_act"] = c.activation.empty() ? "silu" : c.activation;
      if (c.model_type == "llama") {
        j["attention_bias"] = c.attention_bias;
        j["mlp_bias"] = c.mlp_bias;
      }
      if (c.model_type == "mistral" && !j.contains("sliding_window")) j["sliding_window"] = nullptr;
      break;
    case Family::Gpt2:
      j["n_embd"] = c.hidden_size;
      j["n_layer"] = c.num_layers;
      j["n_head"] = c.num_heads;
      j["n_inner"] = c.intermediate_size == 4 * c.hidden_size && !(j.contains("n_inner") && !j["n_inner"].is_null())
                         ? json(nullptr)
                         : json(c.intermediate_size);
      j["n_positions"] = c.max_position_embeddings;
      j["layer_norm_epsilon"] = c.norm_eps;
      j["activation_function"] = c.activation.empty() ? "gelu_new" : c.activation;
      j["resid_pdrop"] = c.resid_pdrop;
      j["embd_pdrop"] = c.embd_pdrop;
      j["attn_pdrop"] = c.attn_pdrop;
      break;
    case Family::Opt:
      j.erase("initializer_range");
      j["init_std"] = c.initializer_range;
      j["hidden_size"] = c.hidden_size;
      j["num_hidden_layers"] = c.num_layers;
      j["ffn_dim"] = c.intermediate_size;
      j["num_attention_heads"] = c.num_heads;
      j["max_position_embeddings"] = c.max_position_embeddings;
      j["do_layer_norm_before"] = c.do_layer_norm_before;
      j["word_embed_proj_dim"] = c.word_embed_proj_dim;
      j["activation_function"] = c.activation.empty() ? "relu" : c.activation;
      j["dropout"] = c.resid_pdrop;
      j["attention_dropout"] = c.attn_pdrop;
      j["enable_bias"] = true;
      j["_remove_final_layer_norm"] = false;
      j["tie_word_embeddings"] = c.tie_word_embeddings;
      break;
  }
  // Fields a model_type cannot express (an o_proj bias on qwen2, embedding
  // dropout on llama, ...) would be lost silently; refuse them instead.
  BackboneConfig back = parse_hf_config(j, "to_hf_json(" + c.model_type + ")");
  if (c.activation.empty()) back.activation.clear();
  std::string diff = config_difference(back, c);
  if (!diff.empty()) fail("config cannot be written as a {} config.json: {}", c.model_type, diff);
  return j;
}

std::string config_difference(const BackboneConfig& a, const BackboneConfig& b) {
#define HMT_COMPARE(field) \
  if (a.field != b.field) return fmt::format(#field ": {} vs {}", a.field, b.field)
  HMT_COMPARE(model_type);
  if (a.family != b.family) return fmt::format("family: {} vs {}", a.family_name(), b.family_name());
  HMT_COMPARE(vocab_size);
  HMT_COMPARE(hidden_size);
  HMT_COMPARE(num_layers);
  HMT_COMPARE(num_heads);
  HMT_COMPARE(num_kv_heads);
  HMT_COMPARE(intermediate_size);
  HMT_COMPARE(max_position_embeddings);
  HMT_COMPARE(head_dim);
  HMT_COMPARE(norm_eps);
  HMT_COMPARE(rope_theta);
  HMT_COMPARE(initializer_range);
  HMT_COMPARE(tie_word_embeddings);
  HMT_COMPARE(attention_bias);
  HMT_COMPARE(qkv_bias_only);
  HMT_COMPARE(mlp_bias);
  HMT_COMPARE(embd_pdrop);
  HMT_COMPARE(resid_pdrop);
  HMT_COMPARE(attn_pdrop);
  HMT_COMPARE(do_layer_norm_before);
  HMT_COMPARE(word_embed_proj_dim);
  HMT_COMPARE(activation);
  HMT_COMPARE(bos_token_id);
  HMT_COMPARE(eos_token_id);
  HMT_COMPARE(pad_token_id);
#undef HMT_COMPARE
  return "";
}

int64_t parameter_count(const BackboneConfig& c) {
  const int64_t d = c.hidden_size, V = c.vocab_size, I = c.intermediate_size, L = c.num_layers;
  int64_t total = 0;
  switch (c.family) {
    case Family::Llama: {
      const int64_t q = c.num_heads * c.head_dim, kv = c.num_kv_heads * c.head_dim;
      int64_t layer = d * q + 2 * d * kv + q * d + 3 * d * I + 2 * d;
      if (c.attention_bias) layer += q + 2 * kv + (c.qkv_bias_only ? 0 : d);
      if (c.mlp_bias) layer += 2 * I + d;
      total = V * d + L * layer + d + (c.tie_word_embeddings ? 0 : V * d);
      break;
    }
    case Family::Gpt2: {
      int64_t layer = 4 * d + (d * 3 * d + 3 * d) + (d * d + d) + (d * I + I) + (I * d + d);
      total = V * d + c.max_position_embeddings * d + L * layer + 2 * d;
      break;
    }
    case Family::Opt: {
      const int64_t e = c.embed_dim();
      int64_t layer = 4 * (d * d + d) + 4 * d + (d * I + I) + (I * d + d);
      total = V * e + (c.max_position_embeddings + 2) * d + L * layer;
      if (e != d) total += 2 * e * d;  // project_in / project_out, no bias
      if (c.do_layer_norm_before) total += 2 * d;
      if (!c.tie_word_embeddings) total += V * e;
      break;
    }
  }
  return total;
}

std::string describe(const BackboneConfig& c) {
  const int64_t n = parameter_count(c);
  std::string count = n >= 1'000'000'000 ? fmt::format("{:.2f}B", n / 1e9)
                      : n >= 1'000'000   ? fmt::format("{:.1f}M", n / 1e6)
                                         : fmt::format("{}", n);
  const std::string type = c.model_type.empty() ? c.family_name() : c.model_type;
  std::string line = fmt::format("{} ({} family): {} layers, d={}, heads={}", type, c.family_name(), c.num_layers,
                                 c.hidden_size, c.num_heads);
  if (c.num_kv_heads != 0 && c.num_kv_heads != c.num_heads) line += fmt::format(" ({} kv)", c.num_kv_heads);
  line += fmt::format(", ffn={}, vocab={}", c.intermediate_size, c.vocab_size);
  if (c.embed_dim() != c.hidden_size) line += fmt::format(", embed={}", c.embed_dim());
  line += fmt::format(", {}, {} parameters", c.tie_word_embeddings ? "tied" : "untied", count);
  return line;
}

}  // namespace hmt
