// The llama family against a scalar per-position, per-head reference built
// from HF's modeling_llama order: x += o(attn(rope(q), rope(k), v)) of
// RMSNorm(x); x += down(silu(gate) * up) of RMSNorm(x); final RMSNorm.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <cmath>
#include <string>
#include <vector>

#include "model/backbone_families.h"
#include "tests/model/backbone_checks.h"
#include "tests/model/naive_reference.h"

namespace hmt::llama_test {
namespace {

using test::Rows;
using test::Vec;

BackboneConfig base_llama() {
  BackboneConfig c;
  c.model_type = "llama";
  c.family = Family::Llama;
  c.vocab_size = 50;
  c.hidden_size = 24;
  c.num_layers = 2;
  c.num_heads = 4;
  c.num_kv_heads = 4;
  c.intermediate_size = 40;
  c.max_position_embeddings = 64;
  c.norm_eps = 1e-6;
  c.rope_theta = 500.0;  // small theta: positions rotate visibly in short sequences
  c.tie_word_embeddings = true;
  c.attn_pdrop = 0.2;
  c.activation = "silu";
  c.pad_token_id = 0;
  return c;
}

BackboneConfig gqa_untied() {
  auto c = base_llama();
  c.model_type = "mistral";
  c.num_kv_heads = 1;
  c.tie_word_embeddings = false;
  return c;
}

BackboneConfig qwen2_bias() {
  auto c = base_llama();
  c.model_type = "qwen2";
  c.num_kv_heads = 2;
  c.attention_bias = true;
  c.qkv_bias_only = true;
  c.tie_word_embeddings = false;
  return c;
}

// Every optional bias, and a head_dim that is not hidden / heads.
BackboneConfig all_bias_wide_heads() {
  auto c = base_llama();
  c.attention_bias = true;
  c.mlp_bias = true;
  c.head_dim = 8;
  c.num_kv_heads = 2;
  return c;
}

int64_t head_dim_of(const BackboneConfig& c) { return c.head_dim > 0 ? c.head_dim : c.hidden_size / c.num_heads; }

std::set<std::string> expected_names(const BackboneConfig& c) {
  const bool qkv_bias = c.attention_bias || c.qkv_bias_only;
  const bool o_bias = c.attention_bias && !c.qkv_bias_only;
  std::set<std::string> names{"model.embed_tokens.weight", "model.norm.weight"};
  if (!c.tie_word_embeddings) names.insert("lm_head.weight");
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    for (const char* proj : {"q_proj", "k_proj", "v_proj", "o_proj"}) {
      names.insert(p + "self_attn." + proj + ".weight");
      if (std::string(proj) == "o_proj" ? o_bias : qkv_bias) names.insert(p + "self_attn." + proj + ".bias");
    }
    for (const char* proj : {"gate_proj", "up_proj", "down_proj"}) {
      names.insert(p + "mlp." + proj + ".weight");
      if (c.mlp_bias) names.insert(p + "mlp." + proj + ".bias");
    }
    names.insert(p + "input_layernorm.weight");
    names.insert(p + "post_attention_layernorm.weight");
  }
  return names;
}

int64_t expected_count(const BackboneConfig& c) {
  const int64_t d = c.hidden_size, hd = head_dim_of(c), q = c.num_heads * hd, kv = c.num_kv_heads * hd;
  const int64_t im = c.intermediate_size, v = c.vocab_size;
  const bool qkv_bias = c.attention_bias || c.qkv_bias_only;
  const bool o_bias = c.attention_bias && !c.qkv_bias_only;
  int64_t per_layer = d * q + 2 * d * kv + q * d + 3 * d * im + 2 * d;
  if (qkv_bias) per_layer += q + 2 * kv;
  if (o_bias) per_layer += d;
  if (c.mlp_bias) per_layer += 2 * im + d;
  return v * d + c.num_layers * per_layer + d + (c.tie_word_embeddings ? 0 : v * d);
}

// Rotates each head's halves (x_i, x_{i+D/2}) by angle pos * theta^(-2i/D).
Vec rotate(const Vec& x, int64_t heads, int64_t hd, int64_t pos, double theta) {
  Vec y = x;
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t i = 0; i < hd / 2; ++i) {
      const double angle = static_cast<double>(pos) * std::pow(theta, -2.0 * static_cast<double>(i) / hd);
      const double a = x[h * hd + i], b = x[h * hd + i + hd / 2];
      y[h * hd + i] = a * std::cos(angle) - b * std::sin(angle);
      y[h * hd + i + hd / 2] = b * std::cos(angle) + a * std::sin(angle);
    }
  }
  return y;
}

struct Naive {
  Rows logits, hidden;
};

Naive naive_llama(Backbone& m, const BackboneConfig& c, const std::vector<int64_t>& ids) {
  const int64_t hd = head_dim_of(c);
  const bool qkv_bias = c.attention_bias || c.qkv_bias_only;
  const bool o_bias = c.attention_bias && !c.qkv_bias_only;
  auto table = test::mat(m, "model.embed_tokens.weight");
  Rows x;
  for (auto id : ids) x.push_back(table.row(id));
  const size_t n = x.size();

  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    auto proj = [&](const std::string& name, const Vec& in, bool bias) {
      auto y = test::linear(test::mat(m, p + name + ".weight"), in);
      return bias ? test::plus(y, test::vec(m, p + name + ".bias")) : y;
    };
    Rows q(n), k(n), v(n);
    for (size_t t = 0; t < n; ++t) {
      auto normed = test::rms_norm(x[t], test::vec(m, p + "input_layernorm.weight"), c.norm_eps);
      q[t] = rotate(proj("self_attn.q_proj", normed, qkv_bias), c.num_heads, hd, t, c.rope_theta);
      k[t] = rotate(proj("self_attn.k_proj", normed, qkv_bias), c.num_kv_heads, hd, t, c.rope_theta);
      v[t] = proj("self_attn.v_proj", normed, qkv_bias);
    }
    auto att = test::causal_attention(q, k, v, c.num_heads, c.num_kv_heads, hd, 1.0 / std::sqrt(double(hd)));
    for (size_t t = 0; t < n; ++t) {
      x[t] = test::plus(x[t], proj("self_attn.o_proj", att[t], o_bias));
      auto normed = test::rms_norm(x[t], test::vec(m, p + "post_attention_layernorm.weight"), c.norm_eps);
      auto gate = test::apply(proj("mlp.gate_proj", normed, c.mlp_bias), test::silu);
      auto up = proj("mlp.up_proj", normed, c.mlp_bias);
      x[t] = test::plus(x[t], proj("mlp.down_proj", test::times(gate, up), c.mlp_bias));
    }
  }
  Naive out;
  auto head = test::mat(m, c.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight");
  for (size_t t = 0; t < n; ++t) {
    out.hidden.push_back(test::rms_norm(x[t], test::vec(m, "model.norm.weight"), c.norm_eps));
    out.logits.push_back(test::linear(head, out.hidden.back()));
  }
  return out;
}

std::shared_ptr<Backbone> random_double_llama(const BackboneConfig& c, uint64_t seed) {
  torch::manual_seed(seed);
  auto model = make_llama(c);
  model->to(torch::kDouble);
  test::randomize_parameters(*model, seed + 1);
  model->eval();
  return model;
}

const std::vector<BackboneConfig>& variants() {
  static const std::vector<BackboneConfig> all{base_llama(), gqa_untied(), qwen2_bias(), all_bias_wide_heads()};
  return all;
}

}  // namespace

TEST_CASE("llama parameter names are the HF names", "[backbone][llama]") {
  for (const auto& c : variants()) {
    INFO("variant " << c.model_type << " kv_heads " << c.num_kv_heads);
    auto model = make_llama(c);
    CHECK(test::parameter_names(*model) == expected_names(c));
    CHECK(model->named_parameters().size() == expected_names(c).size());
  }
}

TEST_CASE("llama parameter count matches the closed form", "[backbone][llama]") {
  for (const auto& c : variants()) {
    INFO("variant " << c.model_type << " kv_heads " << c.num_kv_heads);
    CHECK(test::parameter_count(*make_llama(c)) == expected_count(c));
  }
}

TEST_CASE("llama logits and hidden match the per-position reference", "[backbone][llama]") {
  const std::vector<std::vector<int64_t>> rows{{3, 17, 42, 8, 8, 29, 1}, {49, 0, 12, 33, 7, 21, 5}};
  for (const auto& c : variants()) {
    INFO("variant " << c.model_type << " kv_heads " << c.num_kv_heads << " attention_bias " << c.attention_bias);
    auto model = random_double_llama(c, /*seed=*/11);
    torch::NoGradGuard no_grad;
    auto ids = torch::cat({test::id_tensor(rows[0]), test::id_tensor(rows[1])}, /*dim=*/0);
    auto out = model->forward(model->embed(ids));
    REQUIRE(out.logits.sizes() == torch::IntArrayRef({2, 7, c.vocab_size}));
    REQUIRE(out.last_hidden.sizes() == torch::IntArrayRef({2, 7, c.hidden_size}));
    for (int64_t b = 0; b < 2; ++b) {
      auto expected = naive_llama(*model, c, rows[b]);
      CHECK(test::max_abs_diff(test::rows_of(out.logits, b, 0, 7), expected.logits) < 1e-10);
      CHECK(test::max_abs_diff(test::rows_of(out.last_hidden, b, 0, 7), expected.hidden) < 1e-10);
    }
  }
}

TEST_CASE("llama left-padded rows equal the rows alone", "[backbone][llama]") {
  for (const auto& c : {base_llama(), gqa_untied()}) {
    auto model = random_double_llama(c, /*seed=*/21);
    test::check_left_padding(*model, {5, 9, 14, 2, 40}, {7, 7, 31, 2, 19, 44, 3, 10});
  }
}

TEST_CASE("llama attention dropout replays after re-seeding", "[backbone][llama]") {
  auto model = random_double_llama(base_llama(), /*seed=*/31);
  test::check_dropout_replay(*model, {4, 8, 15, 16, 23, 42});
  auto no_dropout = base_llama();
  no_dropout.attn_pdrop = 0.0;
  CHECK_FALSE(test::dropout_changes_output(*random_double_llama(no_dropout, /*seed=*/31), {4, 8, 15, 16, 23, 42}));
}

TEST_CASE("llama init follows HF _init_weights", "[backbone][llama]") {
  auto c = all_bias_wide_heads();
  c.initializer_range = 0.05;
  c.vocab_size = 400;
  torch::manual_seed(/*seed=*/41);
  auto model = make_llama(c);
  auto params = model->named_parameters();
  auto table = params["model.embed_tokens.weight"];
  CHECK(table[c.pad_token_id].abs().max().item<double>() == 0.0);
  CHECK(table.narrow(0, 1, c.vocab_size - 1).std().item<double>() == Approx(0.05).epsilon(0.05));
  CHECK(params["model.layers.1.mlp.up_proj.weight"].std().item<double>() == Approx(0.05).epsilon(0.1));
  CHECK(torch::equal(params["model.norm.weight"], torch::ones({c.hidden_size})));
  CHECK(torch::equal(params["model.layers.0.input_layernorm.weight"], torch::ones({c.hidden_size})));
  CHECK(params["model.layers.0.self_attn.q_proj.bias"].abs().max().item<double>() == 0.0);
  CHECK(params["model.layers.0.mlp.down_proj.bias"].abs().max().item<double>() == 0.0);
}

TEST_CASE("llama gradients reach every parameter", "[backbone][llama]") {
  for (const auto& c : {qwen2_bias(), all_bias_wide_heads()}) {
    auto model = random_double_llama(c, /*seed=*/51);
    test::check_all_parameters_used(*model, {1, 2, 3, 4, 5});
  }
}

TEST_CASE("llama runs in float32 and bfloat16", "[backbone][llama]") {
  auto build = [] {
    torch::manual_seed(/*seed=*/61);
    auto model = make_llama(gqa_untied());
    test::randomize_parameters(*model, /*seed=*/62);
    return model;
  };
  test::check_reduced_precision(build, {3, 1, 4, 1, 5, 9, 2, 6});
}

}  // namespace hmt::llama_test
