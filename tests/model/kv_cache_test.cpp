// Backbone::forward_cached against forward(): a sequence fed in chunks of
// varying size through a key/value cache gives the logits and hidden states
// of one uncached pass over the whole sequence, for every family variant
// (llama with GQA and qwen2 biases, gpt2, opt pre-LN/post-LN with
// project_in/out) and with LoRA adapters attached.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <numeric>
#include <string>
#include <vector>

#include "core/error.h"
#include "model/backbone.h"
#include "model/kv_cache.h"
#include "model/lora.h"
#include "tests/model/naive_reference.h"
#include "tests/model/tiny_backbone_config.h"

namespace hmt::kv_cache_test {
namespace {

struct Variant {
  std::string label, model_type;
  nlohmann::json overrides;
};

std::vector<Variant> variants() {
  return {
      {"llama tied", "llama", nlohmann::json::object()},
      {"llama GQA untied", "llama", {{"num_key_value_heads", 2}, {"tie_word_embeddings", false}}},
      {"mistral one kv head", "mistral", {{"num_key_value_heads", 1}, {"rope_theta", 300.0}}},
      {"qwen2 qkv bias", "qwen2", {{"num_key_value_heads", 2}, {"tie_word_embeddings", false}}},
      {"gpt2", "gpt2", nlohmann::json::object()},
      {"opt pre-LN project_in/out", "opt", {{"word_embed_proj_dim", 16}}},
      {"opt post-LN", "opt", {{"do_layer_norm_before", false}}},
  };
}

// A double model in eval mode with every parameter away from its init.
std::shared_ptr<Backbone> random_model(const Variant& v, uint64_t seed) {
  torch::manual_seed(seed);
  auto model = make_backbone(test::tiny_backbone_config(v.model_type, v.overrides));
  model->to(torch::kDouble);
  test::randomize_parameters(*model, seed + 1);
  model->eval();
  return model;
}

double max_diff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

// Feeds `embeds` [B, T, d] in `chunks` and compares every chunk's output
// with the matching rows of one forward() over all T positions.
void check_chunks(Backbone& model, const torch::Tensor& embeds, const std::vector<int64_t>& chunks) {
  torch::NoGradGuard no_grad;
  REQUIRE(std::accumulate(chunks.begin(), chunks.end(), int64_t{0}) == embeds.size(1));
  auto full = model.forward(embeds);
  KvCache cache;
  int64_t offset = 0;
  for (int64_t chunk : chunks) {
    INFO("positions " << offset << ".." << offset + chunk - 1);
    auto out = model.forward_cached(embeds.narrow(/*dim=*/1, offset, chunk), cache);
    REQUIRE(out.logits.sizes() == torch::IntArrayRef{embeds.size(0), chunk, model.config().vocab_size});
    REQUIRE(out.last_hidden.sizes() == torch::IntArrayRef{embeds.size(0), chunk, model.embed_dim()});
    CHECK(max_diff(out.logits, full.logits.narrow(/*dim=*/1, offset, chunk)) < 1e-10);
    CHECK(max_diff(out.last_hidden, full.last_hidden.narrow(/*dim=*/1, offset, chunk)) < 1e-10);
    offset += chunk;
    CHECK(cache.length() == offset);
  }
}

torch::Tensor random_embeds(Backbone& model, int64_t batch, int64_t length, uint64_t seed) {
  torch::manual_seed(seed);
  auto ids = torch::randint(model.config().vocab_size, {batch, length}, torch::kLong);
  return model.embed(ids).detach();
}

TEST_CASE("kv cache: chunked forward_cached equals one forward over the prefix, every family", "[kv_cache][model]") {
  for (const auto& v : variants()) {
    INFO(v.label);
    auto model = random_model(v, /*seed=*/21);
    auto embeds = random_embeds(*model, /*batch=*/1, /*length=*/40, /*seed=*/5);
    // One position at a time after a prompt-sized first chunk, then chunks
    // of varying size, so both decoding and chunked prefill are covered.
    check_chunks(*model, embeds, {7, 1, 1, 1, 5, 2, 1, 13, 1, 8});
    check_chunks(*model, embeds, std::vector<int64_t>(40, 1));
    check_chunks(*model, embeds, {40});
  }
}

TEST_CASE("kv cache: rows of a batch decode independently", "[kv_cache][model]") {
  for (const auto& v : variants()) {
    INFO(v.label);
    auto model = random_model(v, /*seed=*/3);
    check_chunks(*model, random_embeds(*model, /*batch=*/3, /*length=*/17, /*seed=*/8), {4, 1, 1, 6, 5});
  }
}

TEST_CASE("kv cache: cleared cache starts a new sequence at position 0", "[kv_cache][model]") {
  for (const auto& v : variants()) {
    INFO(v.label);
    auto model = random_model(v, /*seed=*/9);
    torch::NoGradGuard no_grad;
    auto first = random_embeds(*model, /*batch=*/1, /*length=*/20, /*seed=*/1);
    auto second = random_embeds(*model, /*batch=*/1, /*length=*/6, /*seed=*/2);
    KvCache cache;
    model->forward_cached(first, cache);
    cache.clear();
    CHECK(cache.empty());
    auto again = model->forward_cached(second, cache);
    CHECK(max_diff(again.logits, model->forward(second).logits) < 1e-10);
    // Continuing without clearing would put `second` at positions 20..25:
    // a different result, so the check above can tell the two apart.
    auto continued = model->forward_cached(second, cache);
    CHECK(max_diff(continued.logits, again.logits) > 1e-6);
  }
}

TEST_CASE("kv cache: LoRA adapters act through the cached path as through forward", "[kv_cache][lora][model]") {
  for (const auto& v : variants()) {
    INFO(v.label);
    auto model = random_model(v, /*seed=*/13);
    LoraConfig lora;
    lora.rank = 2;
    lora.alpha = 4.0;
    lora.dropout = 0.0;
    auto adapted = attach_lora(*model, lora);
    REQUIRE_FALSE(adapted.empty());
    model->to(torch::kDouble);
    {
      // B starts at zero; a nonzero B makes the adapters matter.
      torch::NoGradGuard no_grad;
      torch::manual_seed(4);
      for (auto& item : model->named_parameters())
        if (item.key().find("lora_B") != std::string::npos) item.value().normal_(/*mean=*/0.0, /*std=*/0.3);
    }
    model->eval();
    auto embeds = random_embeds(*model, /*batch=*/1, /*length=*/15, /*seed=*/6);
    auto merged = merged_copy(*model);
    merged->eval();
    torch::NoGradGuard no_grad;
    CHECK(max_diff(model->forward(embeds).logits, merged->forward(embeds).logits) < 1e-10);
    check_chunks(*model, embeds, {3, 1, 1, 4, 6});
  }
}

TEST_CASE("kv cache: learned positions past the table are an error naming the limit", "[kv_cache][model]") {
  for (const auto& v : variants()) {
    if (v.model_type != "gpt2" && v.model_type != "opt") continue;
    INFO(v.label);
    auto model = random_model(v, /*seed=*/2);
    torch::NoGradGuard no_grad;
    KvCache cache;
    model->forward_cached(random_embeds(*model, /*batch=*/1, /*length=*/60, /*seed=*/1), cache);
    CHECK_THROWS_WITH(model->forward_cached(random_embeds(*model, 1, /*length=*/5, /*seed=*/2), cache),
                      Catch::Contains("60 cached + 5 new positions exceed") && Catch::Contains("64"));
    CHECK(cache.length() == 60);
  }
}

TEST_CASE("kv cache: a batch or width other than the cache holds is an error", "[kv_cache][model]") {
  auto model = random_model(variants().front(), /*seed=*/2);
  torch::NoGradGuard no_grad;
  KvCache cache;
  model->forward_cached(random_embeds(*model, /*batch=*/1, /*length=*/4, /*seed=*/1), cache);
  CHECK_THROWS_WITH(model->forward_cached(random_embeds(*model, /*batch=*/2, /*length=*/1, /*seed=*/2), cache),
                    Catch::Contains("kv cache"));
  CHECK_THROWS_WITH(model->forward_cached(torch::zeros({1, 1, 5}, torch::kDouble), cache), Catch::Contains("width"));
}

TEST_CASE("kv cache: storage grows by doubling and is reused after clear", "[kv_cache]") {
  KvCache cache;
  auto kv = torch::ones({1, 2, 1, 4});
  for (int i = 0; i < 40; ++i) {
    auto [k, v] = cache.extend(/*layer=*/0, kv * i, kv * -i);
    cache.advance(1);
    CHECK(k.size(2) == i + 1);
    CHECK(k.select(/*dim=*/2, i).eq(i).all().item<bool>());
    CHECK(v.select(/*dim=*/2, 0).eq(0).all().item<bool>());
  }
  const int64_t bytes = cache.storage_bytes();
  CHECK(bytes == 2 * 1 * 2 * 64 * 4 * 4);  // keys + values, capacity 16 -> 32 -> 64 positions, float32
  cache.clear();
  cache.extend(/*layer=*/0, kv, kv);
  cache.advance(1);
  CHECK(cache.storage_bytes() == bytes);
  CHECK_THROWS_WITH(cache.extend(/*layer=*/2, kv, kv), Catch::Contains("layer 2 extended before layer 1"));
}

}  // namespace
}  // namespace hmt::kv_cache_test
