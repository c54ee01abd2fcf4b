#include <catch2/catch.hpp>

#include <fstream>

#include "core/error.h"
#include "model/backbone.h"
#include "model/safetensors.h"
#include "tests/model/tiny_backbone_config.h"
#include "tests/test_paths.h"

namespace fs = std::filesystem;
using Catch::Contains;
using nlohmann::json;

namespace {

std::map<std::string, torch::Tensor> parameters(hmt::Backbone& model) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& item : model.named_parameters(/*recurse=*/true)) out.emplace(item.key(), item.value());
  return out;
}

hmt::BackboneConfig tiny(const std::string& model_type, json overrides = json::object()) {
  return hmt::test::tiny_backbone_config(model_type, overrides);
}

// The tiny gpt2 saved from a fresh model: the base for tampering.
fs::path saved_gpt2(const std::string& name) {
  auto dir = hmt::test::temp_dir(name);
  torch::manual_seed(3);
  auto model = hmt::make_backbone(tiny("gpt2"));
  hmt::save_backbone(*model, dir.string());
  return dir;
}

hmt::NamedTensors all_tensors(const fs::path& file) {
  hmt::SafetensorsFile st(file.string());
  hmt::NamedTensors out;
  for (const auto& name : st.names()) out.emplace_back(name, st.get(name).clone());
  return out;
}

}  // namespace

TEST_CASE("backbone_io: save then load gives identical parameters and logits for every family", "[backbone_io]") {
  struct Case {
    const char* label;
    hmt::BackboneConfig config;
  };
  std::vector<Case> cases = {
      {"llama untied", tiny("llama")},
      {"llama GQA, tied, biases",
       tiny("llama",
            {{"num_key_value_heads", 2}, {"tie_word_embeddings", true}, {"attention_bias", true}, {"mlp_bias", true}})},
      {"qwen2 q/k/v bias", tiny("qwen2", {{"num_key_value_heads", 2}, {"tie_word_embeddings", true}})},
      {"mistral", tiny("mistral", {{"sliding_window", nullptr}})},
      {"gpt2", tiny("gpt2")},
      {"opt pre-LN", tiny("opt")},
      {"opt post-LN with project_in/out", tiny("opt", {{"do_layer_norm_before", false}, {"word_embed_proj_dim", 16}})},
      {"opt untied", tiny("opt", {{"tie_word_embeddings", false}})},
  };
  for (const auto& [label, config] : cases) {
    INFO(label);
    auto dir = hmt::test::temp_dir("io_roundtrip");
    torch::manual_seed(7);
    auto model = hmt::make_backbone(config);
    model->eval();
    auto params = parameters(*model);
    int64_t numel = 0;
    for (const auto& [_, p] : params) numel += p.numel();
    REQUIRE(numel == hmt::parameter_count(config));

    hmt::save_backbone(*model, dir.string());
    hmt::SafetensorsFile file((dir / "model.safetensors").string());
    REQUIRE(file.metadata().at("format") == "pt");
    REQUIRE(file.contains("lm_head.weight") == !config.tie_word_embeddings);
    REQUIRE(file.names().size() == params.size());

    auto loaded = hmt::load_backbone(dir.string());
    REQUIRE(hmt::config_difference(loaded->config(), config) == "");
    auto loaded_params = parameters(*loaded);
    REQUIRE(loaded_params.size() == params.size());
    for (const auto& [name, p] : params) {
      INFO(name);
      REQUIRE(loaded_params.count(name) == 1);
      REQUIRE(torch::equal(loaded_params.at(name), p));
    }
    auto ids = torch::randint(0, config.vocab_size, {2, 7});
    torch::NoGradGuard no_grad;
    auto expected = model->forward(model->embed(ids)).logits;
    auto actual = loaded->forward(loaded->embed(ids)).logits;
    REQUIRE(actual.sizes() == torch::IntArrayRef({2, 7, config.vocab_size}));
    REQUIRE(torch::equal(actual, expected));
  }
}

TEST_CASE("backbone_io: fake_gpt2 loads with the checkpoint's exact values", "[backbone_io]") {
  HMT_REQUIRE_SHARED("holdout/models/fake_gpt2/model.safetensors");
  auto dir = hmt::test::shared_data() / "holdout/models/fake_gpt2";
  auto model = hmt::load_backbone(dir.string());
  REQUIRE(model->config().family == hmt::Family::Gpt2);
  REQUIRE_FALSE(model->is_training());
  hmt::SafetensorsFile raw((dir / "model.safetensors").string());
  auto params = parameters(*model);
  REQUIRE(params.size() == raw.names().size());
  for (const auto& name : raw.names()) {
    INFO(name);
    REQUIRE(params.count(name) == 1);
    REQUIRE(torch::equal(params.at(name), raw.get(name)));
  }
}

TEST_CASE("backbone_io: GPT-2 names without transformer. and stale buffers load", "[backbone_io]") {
  auto dir = saved_gpt2("io_gpt2_bare");
  hmt::NamedTensors bare;
  torch::Tensor wte;
  for (auto& [name, t] : all_tensors(dir / "model.safetensors")) {
    bare.emplace_back(name.substr(std::string("transformer.").size()), t);
    if (name == "transformer.wte.weight") wte = t;
  }
  bare.emplace_back("h.0.attn.bias", torch::ones({1, 1, 64, 64}).tril());
  bare.emplace_back("h.1.attn.masked_bias", torch::tensor(-1e4));
  bare.emplace_back("lm_head.weight", wte.clone());  // tied: equal to wte, skipped
  auto expected = parameters(*hmt::load_backbone(dir.string()));
  hmt::save_safetensors((dir / "model.safetensors").string(), bare);
  auto loaded = parameters(*hmt::load_backbone(dir.string()));
  REQUIRE(loaded.size() == expected.size());
  for (const auto& [name, p] : expected) REQUIRE(torch::equal(loaded.at(name), p));

  bare.back().second = wte + 1;
  hmt::save_safetensors((dir / "model.safetensors").string(), bare);
  REQUIRE_THROWS_WITH(hmt::load_backbone(dir.string()), Contains("model.safetensors") &&
                                                            Contains("\"lm_head.weight\" differs") &&
                                                            Contains("tie_word_embeddings"));
}

TEST_CASE("backbone_io: missing, unexpected and mis-shaped tensors are named", "[backbone_io]") {
  auto dir = saved_gpt2("io_tamper");
  auto file = dir / "model.safetensors";
  const auto original = all_tensors(file);
  auto rewrite = [&](auto edit) {
    hmt::NamedTensors tensors = original;
    edit(tensors);
    hmt::save_safetensors(file.string(), tensors);
  };
  auto find = [](hmt::NamedTensors& tensors, const std::string& name) {
    return std::find_if(tensors.begin(), tensors.end(), [&](const auto& item) { return item.first == name; });
  };

  rewrite([&](hmt::NamedTensors& t) { t.erase(find(t, "transformer.ln_f.bias")); });
  REQUIRE_THROWS_WITH(hmt::load_backbone(dir.string()),
                      Contains(file.string()) &&
                          Contains("missing tensor \"transformer.ln_f.bias\" (expected shape [32])"));
  rewrite([&](hmt::NamedTensors& t) { t.emplace_back("transformer.h.0.attn.extra", torch::zeros({2, 2})); });
  REQUIRE_THROWS_WITH(hmt::load_backbone(dir.string()),
                      Contains(file.string()) && Contains("unexpected tensor \"transformer.h.0.attn.extra\" [2, 2]"));
  rewrite([&](hmt::NamedTensors& t) { find(t, "transformer.h.1.mlp.c_fc.weight")->second = torch::zeros({128, 32}); });
  REQUIRE_THROWS_WITH(hmt::load_backbone(dir.string()),
                      Contains(file.string()) &&
                          Contains("shape mismatch for \"transformer.h.1.mlp.c_fc.weight\": model expects [32, 128], "
                                   "file has [128, 32]"));
  rewrite([](hmt::NamedTensors&) {});
  REQUIRE_NOTHROW(hmt::load_backbone(dir.string()));
}

TEST_CASE("backbone_io: directories without config.json or safetensors", "[backbone_io]") {
  auto dir = saved_gpt2("io_dirs");
  fs::rename(dir / "model.safetensors", dir / "pytorch_model.bin");
  REQUIRE_THROWS_WITH(hmt::load_backbone(dir.string()),
                      Contains(dir.string()) && Contains("pytorch_model.bin but no model.safetensors") &&
                          Contains("save_pretrained('" + dir.string() + "', safe_serialization=True)"));
  fs::remove(dir / "pytorch_model.bin");
  REQUIRE_THROWS_WITH(hmt::load_backbone(dir.string()), Contains("no model.safetensors"));
  fs::remove(dir / "config.json");
  REQUIRE_THROWS_WITH(hmt::load_backbone(dir.string()),
                      Contains((dir / "config.json").string()) && Contains("missing"));
  REQUIRE_THROWS_WITH(hmt::load_backbone((dir / "nowhere").string()), Contains("not a model directory"));
}

TEST_CASE("backbone_io: a sharded checkpoint loads like the single file", "[backbone_io]") {
  auto dir = saved_gpt2("io_sharded");
  auto expected = parameters(*hmt::load_backbone(dir.string()));
  auto tensors = all_tensors(dir / "model.safetensors");
  hmt::NamedTensors first(tensors.begin(), tensors.begin() + 5), second(tensors.begin() + 5, tensors.end());
  hmt::save_safetensors((dir / "model-00001-of-00002.safetensors").string(), first);
  hmt::save_safetensors((dir / "model-00002-of-00002.safetensors").string(), second);
  json index = {{"metadata", json::object()}, {"weight_map", json::object()}};
  for (const auto& [name, _] : first) index["weight_map"][name] = "model-00001-of-00002.safetensors";
  for (const auto& [name, _] : second) index["weight_map"][name] = "model-00002-of-00002.safetensors";
  std::ofstream(dir / "model.safetensors.index.json") << index.dump();
  fs::remove(dir / "model.safetensors");
  auto loaded = parameters(*hmt::load_backbone(dir.string()));
  REQUIRE(loaded.size() == expected.size());
  for (const auto& [name, p] : expected) REQUIRE(torch::equal(loaded.at(name), p));
}

TEST_CASE("backbone_io: half-precision checkpoints load into float32 and bfloat16 models", "[backbone_io]") {
  auto dir = hmt::test::temp_dir("io_f16");
  torch::manual_seed(5);
  auto model = hmt::make_backbone(tiny("gpt2"));
  model->to(torch::kFloat16);
  hmt::save_backbone(*model, dir.string());
  std::ifstream config_file(dir / "config.json");
  REQUIRE(json::parse(config_file)["torch_dtype"] == "float16");
  REQUIRE(hmt::SafetensorsFile((dir / "model.safetensors").string()).entry("transformer.wte.weight").dtype ==
          torch::kFloat16);

  auto halves = parameters(*model);
  auto f32 = parameters(*hmt::load_backbone(dir.string(), torch::kFloat32));
  auto bf16 = parameters(*hmt::load_backbone(dir.string(), torch::kBFloat16));
  for (const auto& [name, p] : halves) {
    INFO(name);
    REQUIRE(f32.at(name).scalar_type() == torch::kFloat32);
    REQUIRE(torch::equal(f32.at(name), p.to(torch::kFloat32)));
    REQUIRE(bf16.at(name).scalar_type() == torch::kBFloat16);
    REQUIRE(torch::equal(bf16.at(name), p.to(torch::kBFloat16)));
  }
}
