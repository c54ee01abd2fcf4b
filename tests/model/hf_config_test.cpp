#include <catch2/catch.hpp>

#include <fstream>

#include "core/error.h"
#include "model/hf_config.h"
#include "tests/test_paths.h"

using Catch::Contains;
using nlohmann::json;

namespace {

// parse(to_hf_json(c)) must give c back, and keep the keys we do not model.
void require_round_trip(const hmt::BackboneConfig& c) {
  json written = hmt::to_hf_json(c);
  auto back = hmt::parse_hf_config(written, "round trip");
  REQUIRE(hmt::config_difference(back, c) == "");
  for (const auto& [key, value] : c.raw.items())
    if (key != "torch_dtype") REQUIRE(written.contains(key));
}

}  // namespace

TEST_CASE("hf_config: the fake_gpt2 config.json", "[hf_config]") {
  HMT_REQUIRE_SHARED("holdout/models/fake_gpt2/config.json");
  auto path = (hmt::test::shared_data() / "holdout/models/fake_gpt2/config.json").string();
  auto c = hmt::load_hf_config(path);
  REQUIRE(c.family == hmt::Family::Gpt2);
  REQUIRE(c.model_type == "gpt2");
  REQUIRE(c.vocab_size == 50257);
  REQUIRE(c.hidden_size == 2);
  REQUIRE(c.num_layers == 1);
  REQUIRE(c.num_heads == 1);
  REQUIRE(c.num_kv_heads == 1);
  REQUIRE(c.head_dim == 2);
  REQUIRE(c.intermediate_size == 8);  // n_inner null: 4 * n_embd
  REQUIRE(c.max_position_embeddings == 1024);
  REQUIRE(c.norm_eps == 1e-5);
  REQUIRE(c.activation == "gelu_new");
  REQUIRE(c.embd_pdrop == 0.1);
  REQUIRE(c.resid_pdrop == 0.1);
  REQUIRE(c.attn_pdrop == 0.1);
  REQUIRE(c.tie_word_embeddings);
  REQUIRE(c.bos_token_id == 50256);
  REQUIRE(c.eos_token_id == 50256);
  REQUIRE(c.pad_token_id == -1);
  REQUIRE(c.embed_dim() == 2);
  REQUIRE(c.raw["_name_or_path"] == "fake-gpt2");
  require_round_trip(c);
  auto written = hmt::to_hf_json(c);
  REQUIRE(written["n_inner"].is_null());
  REQUIRE(written["task_specific_params"]["text-generation"]["max_length"] == 50);
}

TEST_CASE("hf_config: llama with HF LlamaConfig defaults for absent keys", "[hf_config]") {
  json j = json::parse(R"({
    "model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 32000,
    "hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 22, "num_attention_heads": 32,
    "num_key_value_heads": 4, "max_position_embeddings": 2048, "rms_norm_eps": 1e-05,
    "eos_token_id": [2, 32001], "rope_scaling": null})");
  auto c = hmt::parse_hf_config(j, "tinyllama/config.json");
  REQUIRE(c.family == hmt::Family::Llama);
  REQUIRE(c.num_kv_heads == 4);
  REQUIRE(c.head_dim == 64);
  REQUIRE(c.norm_eps == 1e-5);
  REQUIRE(c.rope_theta == 10000.0);
  REQUIRE(c.activation == "silu");
  REQUIRE_FALSE(c.tie_word_embeddings);
  REQUIRE_FALSE(c.attention_bias);
  REQUIRE_FALSE(c.mlp_bias);
  REQUIRE(c.bos_token_id == 1);
  REQUIRE(c.eos_token_id == 2);  // first of the list
  REQUIRE(c.attn_pdrop == 0.0);
  require_round_trip(c);
  REQUIRE(hmt::to_hf_json(c)["eos_token_id"] == json::array({2, 32001}));
  // 1,100,048,384 is TinyLlama-1.1B's published parameter count.
  REQUIRE(hmt::parameter_count(c) == 1100048384);

  json bare = {{"model_type", "llama"},    {"vocab_size", 100},      {"hidden_size", 64},
               {"intermediate_size", 128}, {"num_hidden_layers", 2}, {"num_attention_heads", 4},
               {"attention_bias", true}};
  auto d = hmt::parse_hf_config(bare, "bare");
  REQUIRE(d.num_kv_heads == 4);
  REQUIRE(d.norm_eps == 1e-6);
  REQUIRE(d.max_position_embeddings == 2048);
  REQUIRE(d.attention_bias);
  REQUIRE_FALSE(d.qkv_bias_only);
}

TEST_CASE("hf_config: qwen2 has q/k/v bias only", "[hf_config]") {
  json j = json::parse(R"({
    "model_type": "qwen2", "vocab_size": 151936, "hidden_size": 896, "intermediate_size": 4864,
    "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2,
    "max_position_embeddings": 32768, "rope_theta": 1000000.0, "tie_word_embeddings": true,
    "use_sliding_window": false, "sliding_window": 32768, "bos_token_id": 151643, "eos_token_id": 151643})");
  auto c = hmt::parse_hf_config(j, "qwen/config.json");
  REQUIRE(c.family == hmt::Family::Llama);
  REQUIRE(c.attention_bias);
  REQUIRE(c.qkv_bias_only);
  REQUIRE_FALSE(c.mlp_bias);
  REQUIRE(c.head_dim == 64);
  REQUIRE(c.rope_theta == 1e6);
  REQUIRE(c.norm_eps == 1e-6);
  REQUIRE(c.tie_word_embeddings);
  require_round_trip(c);
  // 494,032,768 is Qwen2-0.5B's published parameter count.
  REQUIRE(hmt::parameter_count(c) == 494032768);

  json windowed = j;
  windowed["use_sliding_window"] = true;
  windowed["sliding_window"] = 4096;
  REQUIRE_THROWS_WITH(hmt::parse_hf_config(windowed, "qwen/config.json"),
                      Contains("qwen/config.json") && Contains("sliding_window"));
  auto unrepresentable = c;
  unrepresentable.qkv_bias_only = false;  // an o_proj bias has no qwen2 key
  REQUIRE_THROWS_WITH(hmt::to_hf_json(unrepresentable), Contains("qwen2") && Contains("qkv_bias_only"));
}

TEST_CASE("hf_config: mistral loads only without a sliding window", "[hf_config]") {
  json j = json::parse(R"({
    "model_type": "mistral", "vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 14336,
    "num_hidden_layers": 32, "num_attention_heads": 32, "max_position_embeddings": 32768,
    "rope_theta": 1000000.0, "sliding_window": null})");
  auto c = hmt::parse_hf_config(j, "mistral/config.json");
  REQUIRE(c.family == hmt::Family::Llama);
  REQUIRE(c.num_kv_heads == 8);  // MistralConfig's default
  REQUIRE_FALSE(c.attention_bias);
  REQUIRE(c.bos_token_id == 1);
  require_round_trip(c);

  j["sliding_window"] = 4096;
  REQUIRE_THROWS_WITH(hmt::parse_hf_config(j, "mistral/config.json"), Contains("mistral/config.json") &&
                                                                          Contains("sliding_window = 4096") &&
                                                                          Contains("not supported"));
  j.erase("sliding_window");  // MistralConfig's default is a 4096 window
  REQUIRE_THROWS_WITH(hmt::parse_hf_config(j, "mistral/config.json"), Contains("sliding_window = 4096"));
  j["sliding_window"] = 32768;  // as long as any sequence: never masks
  REQUIRE(hmt::parse_hf_config(j, "mistral/config.json").num_layers == 32);
}

TEST_CASE("hf_config: OPT-350m post-LN with word_embed_proj_dim", "[hf_config]") {
  auto c = hmt::load_hf_config((hmt::test::fixtures() / "model/opt350m_config.json").string());
  REQUIRE(c.family == hmt::Family::Opt);
  REQUIRE(c.hidden_size == 1024);
  REQUIRE(c.word_embed_proj_dim == 512);
  REQUIRE(c.embed_dim() == 512);
  REQUIRE_FALSE(c.do_layer_norm_before);
  REQUIRE(c.intermediate_size == 4096);
  REQUIRE(c.num_heads == 16);
  REQUIRE(c.num_layers == 24);
  REQUIRE(c.head_dim == 64);
  REQUIRE(c.tie_word_embeddings);  // absent: OPT ties by default
  REQUIRE(c.resid_pdrop == 0.1);
  REQUIRE(c.attn_pdrop == 0.0);
  REQUIRE(c.embd_pdrop == 0.0);
  REQUIRE(c.norm_eps == 1e-5);
  REQUIRE(c.activation == "relu");
  REQUIRE(c.pad_token_id == 1);
  REQUIRE(c.bos_token_id == 2);
  REQUIRE(c.initializer_range == 0.02);
  require_round_trip(c);
  // 331,196,416 is OPT-350m's published parameter count.
  REQUIRE(hmt::parameter_count(c) == 331196416);
  REQUIRE(hmt::describe(c) ==
          "opt (opt family): 24 layers, d=1024, heads=16, ffn=4096, vocab=50272, embed=512, tied, 331.2M parameters");
}

TEST_CASE("hf_config: published parameter counts of GPT-2 and OPT-125m", "[hf_config]") {
  hmt::BackboneConfig gpt2;
  gpt2.family = hmt::Family::Gpt2;
  gpt2.vocab_size = 50257;
  gpt2.hidden_size = 768;
  gpt2.num_layers = 12;
  gpt2.num_heads = 12;
  gpt2.intermediate_size = 3072;
  gpt2.max_position_embeddings = 1024;
  gpt2.tie_word_embeddings = true;
  REQUIRE(hmt::parameter_count(gpt2) == 124439808);
  auto opt = hmt::parse_hf_config({{"model_type", "opt"},
                                   {"vocab_size", 50272},
                                   {"hidden_size", 768},
                                   {"num_hidden_layers", 12},
                                   {"ffn_dim", 3072},
                                   {"num_attention_heads", 12}},
                                  "opt-125m");
  REQUIRE(hmt::parameter_count(opt) == 125239296);
}

TEST_CASE("hf_config: a config built from scratch becomes a valid config.json", "[hf_config]") {
  hmt::BackboneConfig c;
  c.family = hmt::Family::Gpt2;
  c.vocab_size = 300;
  c.hidden_size = 32;
  c.num_layers = 2;
  c.num_heads = 4;
  c.intermediate_size = 128;
  c.max_position_embeddings = 64;
  c.tie_word_embeddings = true;
  c.activation = "gelu_new";
  json j = hmt::to_hf_json(c);
  REQUIRE(j["model_type"] == "gpt2");
  REQUIRE(j["architectures"] == json::array({"GPT2LMHeadModel"}));
  REQUIRE(j["torch_dtype"] == "float32");
  REQUIRE(j["n_embd"] == 32);
  auto back = hmt::parse_hf_config(j, "scratch");
  c.model_type = "gpt2";
  c.num_kv_heads = 4;
  c.head_dim = 8;
  REQUIRE(hmt::config_difference(back, c) == "");

  auto untied = c;
  untied.tie_word_embeddings = false;
  REQUIRE_THROWS_WITH(hmt::to_hf_json(untied), Contains("tie_word_embeddings"));

  hmt::BackboneConfig llama;
  llama.family = hmt::Family::Llama;
  llama.vocab_size = 100, llama.hidden_size = 48, llama.num_layers = 1, llama.num_heads = 4;
  llama.num_kv_heads = 2, llama.intermediate_size = 96, llama.max_position_embeddings = 128;
  llama.norm_eps = 1e-6, llama.activation = "silu", llama.bos_token_id = 1, llama.eos_token_id = 2;
  json lj = hmt::to_hf_json(llama);
  REQUIRE(lj["architectures"] == json::array({"LlamaForCausalLM"}));
  REQUIRE(lj["num_key_value_heads"] == 2);
  REQUIRE(hmt::parse_hf_config(lj, "scratch").head_dim == 12);
}

TEST_CASE("hf_config: unsupported type, missing and malformed keys name the file", "[hf_config]") {
  REQUIRE_THROWS_WITH(hmt::parse_hf_config({{"model_type", "bert"}}, "dir/config.json"),
                      Contains("dir/config.json") && Contains("unsupported model_type \"bert\"") &&
                          Contains("llama, mistral, qwen2") && Contains("gpt2, opt"));
  REQUIRE_THROWS_WITH(hmt::parse_hf_config({{"vocab_size", 5}}, "dir/config.json"),
                      Contains("dir/config.json") && Contains("\"model_type\""));
  json llama = {{"model_type", "llama"},
                {"vocab_size", 100},
                {"intermediate_size", 128},
                {"num_hidden_layers", 2},
                {"num_attention_heads", 4}};
  REQUIRE_THROWS_WITH(hmt::parse_hf_config(llama, "dir/config.json"),
                      Contains("dir/config.json") && Contains("missing required key \"hidden_size\""));
  llama["hidden_size"] = "big";
  REQUIRE_THROWS_WITH(hmt::parse_hf_config(llama, "dir/config.json"), Contains("\"hidden_size\" must be an integer"));
  llama["hidden_size"] = 64;
  llama["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  REQUIRE_THROWS_WITH(hmt::parse_hf_config(llama, "dir/config.json"), Contains("rope_scaling"));
  llama.erase("rope_scaling");
  llama["num_key_value_heads"] = 3;
  REQUIRE_THROWS_WITH(hmt::parse_hf_config(llama, "dir/config.json"), Contains("num_key_value_heads 3"));

  auto dir = hmt::test::temp_dir("hf_config_files");
  REQUIRE_THROWS_WITH(hmt::load_hf_config((dir / "config.json").string()), Contains("config.json"));
  std::ofstream(dir / "bad.json") << "{\"model_type\": ";
  REQUIRE_THROWS_WITH(hmt::load_hf_config((dir / "bad.json").string()),
                      Contains("bad.json") && Contains("invalid JSON"));
}
