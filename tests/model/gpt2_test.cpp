// GPT-2 against a scalar per-position, per-head reference built from HF's
// modeling_gpt2 order: x = wte + wpe; x += c_proj(attn(c_attn(ln_1 x)));
// x += c_proj(gelu_new(c_fc(ln_2 x))); ln_f; logits against wte.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <cmath>
#include <string>
#include <vector>

#include "model/backbone_families.h"
#include "tests/model/backbone_checks.h"
#include "tests/model/naive_reference.h"

namespace hmt {
namespace {

using test::Rows;
using test::Vec;

BackboneConfig tiny_gpt2() {
  BackboneConfig c;
  c.model_type = "gpt2";
  c.family = Family::Gpt2;
  c.vocab_size = 50;
  c.hidden_size = 24;
  c.num_layers = 2;
  c.num_heads = 3;
  c.num_kv_heads = 3;
  c.intermediate_size = 56;  // not 4 * n_embd, so n_inner is honoured
  c.max_position_embeddings = 16;
  c.head_dim = 8;
  c.norm_eps = 1e-5;
  c.tie_word_embeddings = true;
  c.embd_pdrop = 0.1;
  c.resid_pdrop = 0.1;
  c.attn_pdrop = 0.1;
  c.activation = "gelu_new";
  return c;
}

std::set<std::string> expected_names(const BackboneConfig& c) {
  std::set<std::string> names{"transformer.wte.weight", "transformer.wpe.weight", "transformer.ln_f.weight",
                              "transformer.ln_f.bias"};
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string p = "transformer.h." + std::to_string(i) + ".";
    for (const char* module : {"ln_1", "attn.c_attn", "attn.c_proj", "ln_2", "mlp.c_fc", "mlp.c_proj"}) {
      names.insert(p + module + ".weight");
      names.insert(p + module + ".bias");
    }
  }
  return names;
}

int64_t expected_count(const BackboneConfig& c) {
  const int64_t d = c.hidden_size, im = c.intermediate_size;
  const int64_t per_layer = 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + 2 * d + (d * im + im) + (im * d + d);
  return c.vocab_size * d + c.max_position_embeddings * d + c.num_layers * per_layer + 2 * d;
}

struct Naive {
  Rows logits, hidden;
};

Naive naive_gpt2(Backbone& m, const BackboneConfig& c, const std::vector<int64_t>& ids) {
  const int64_t d = c.hidden_size, hd = d / c.num_heads;
  auto wte = test::mat(m, "transformer.wte.weight");
  auto wpe = test::mat(m, "transformer.wpe.weight");
  Rows x;
  for (size_t t = 0; t < ids.size(); ++t) x.push_back(test::plus(wte.row(ids[t]), wpe.row(t)));
  const size_t n = x.size();

  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = "transformer.h." + std::to_string(l) + ".";
    auto norm = [&](const std::string& name, const Vec& in) {
      return test::layer_norm(in, test::vec(m, p + name + ".weight"), test::vec(m, p + name + ".bias"), c.norm_eps);
    };
    auto conv = [&](const std::string& name, const Vec& in) {
      return test::plus(test::conv1d(in, test::mat(m, p + name + ".weight")), test::vec(m, p + name + ".bias"));
    };
    Rows q(n), k(n), v(n);
    for (size_t t = 0; t < n; ++t) {
      auto qkv = conv("attn.c_attn", norm("ln_1", x[t]));
      q[t] = Vec(qkv.begin(), qkv.begin() + d);
      k[t] = Vec(qkv.begin() + d, qkv.begin() + 2 * d);
      v[t] = Vec(qkv.begin() + 2 * d, qkv.end());
    }
    auto att = test::causal_attention(q, k, v, c.num_heads, c.num_heads, hd, 1.0 / std::sqrt(double(hd)));
    for (size_t t = 0; t < n; ++t) {
      x[t] = test::plus(x[t], conv("attn.c_proj", att[t]));
      auto inner = test::apply(conv("mlp.c_fc", norm("ln_2", x[t])), test::gelu_tanh);
      x[t] = test::plus(x[t], conv("mlp.c_proj", inner));
    }
  }
  Naive out;
  for (size_t t = 0; t < n; ++t) {
    out.hidden.push_back(test::layer_norm(x[t], test::vec(m, "transformer.ln_f.weight"),
                                          test::vec(m, "transformer.ln_f.bias"), c.norm_eps));
    out.logits.push_back(test::linear(wte, out.hidden.back()));
  }
  return out;
}

std::shared_ptr<Backbone> random_double_gpt2(const BackboneConfig& c, uint64_t seed) {
  torch::manual_seed(seed);
  auto model = make_gpt2(c);
  model->to(torch::kDouble);
  test::randomize_parameters(*model, seed + 1);
  model->eval();
  return model;
}

}  // namespace

TEST_CASE("gpt2 parameter names are the HF names", "[backbone][gpt2]") {
  auto c = tiny_gpt2();
  auto model = make_gpt2(c);
  CHECK(test::parameter_names(*model) == expected_names(c));
  CHECK(model->named_parameters().size() == expected_names(c).size());
  auto params = model->named_parameters();
  // Conv1D keeps HF's [in, out] layout.
  CHECK(params["transformer.h.0.attn.c_attn.weight"].sizes() == torch::IntArrayRef({24, 72}));
  CHECK(params["transformer.h.1.mlp.c_fc.weight"].sizes() == torch::IntArrayRef({24, 56}));
  CHECK(params["transformer.h.1.mlp.c_proj.weight"].sizes() == torch::IntArrayRef({56, 24}));
}

TEST_CASE("gpt2 parameter count matches the closed form", "[backbone][gpt2]") {
  CHECK(test::parameter_count(*make_gpt2(tiny_gpt2())) == expected_count(tiny_gpt2()));
}

TEST_CASE("gpt2 logits and hidden match the per-position reference", "[backbone][gpt2]") {
  const auto c = tiny_gpt2();
  const std::vector<std::vector<int64_t>> rows{{3, 17, 42, 8, 8, 29, 1, 30, 2}, {49, 0, 12, 33, 7, 21, 5, 5, 11}};
  auto model = random_double_gpt2(c, /*seed=*/12);
  torch::NoGradGuard no_grad;
  auto ids = torch::cat({test::id_tensor(rows[0]), test::id_tensor(rows[1])}, /*dim=*/0);
  auto out = model->forward(model->embed(ids));
  REQUIRE(out.logits.sizes() == torch::IntArrayRef({2, 9, c.vocab_size}));
  for (int64_t b = 0; b < 2; ++b) {
    auto expected = naive_gpt2(*model, c, rows[b]);
    CHECK(test::max_abs_diff(test::rows_of(out.logits, b, 0, 9), expected.logits) < 1e-10);
    CHECK(test::max_abs_diff(test::rows_of(out.last_hidden, b, 0, 9), expected.hidden) < 1e-10);
  }
}

TEST_CASE("gpt2 left-padded rows equal the rows alone", "[backbone][gpt2]") {
  auto model = random_double_gpt2(tiny_gpt2(), /*seed=*/22);
  test::check_left_padding(*model, {5, 9, 14, 2, 40}, {7, 7, 31, 2, 19, 44, 3, 10, 1});
}

TEST_CASE("gpt2 rejects sequences longer than n_positions", "[backbone][gpt2]") {
  auto model = make_gpt2(tiny_gpt2());
  auto embeds = torch::zeros({1, 17, 24});
  CHECK_THROWS_WITH(model->forward(embeds), Catch::Contains("n_positions"));
}

TEST_CASE("gpt2 dropout replays after re-seeding, each knob is wired", "[backbone][gpt2]") {
  const std::vector<int64_t> ids{4, 8, 15, 16, 23, 42};
  test::check_dropout_replay(*random_double_gpt2(tiny_gpt2(), /*seed=*/32), ids);

  auto only = [](double embd, double resid, double attn) {
    auto c = tiny_gpt2();
    c.embd_pdrop = embd;
    c.resid_pdrop = resid;
    c.attn_pdrop = attn;
    return c;
  };
  CHECK(test::dropout_changes_output(*random_double_gpt2(only(0.3, 0, 0), /*seed=*/33), ids));
  CHECK(test::dropout_changes_output(*random_double_gpt2(only(0, 0.3, 0), /*seed=*/33), ids));
  CHECK(test::dropout_changes_output(*random_double_gpt2(only(0, 0, 0.3), /*seed=*/33), ids));
  CHECK_FALSE(test::dropout_changes_output(*random_double_gpt2(only(0, 0, 0), /*seed=*/33), ids));
}

TEST_CASE("gpt2 init follows HF _init_weights with scaled c_proj", "[backbone][gpt2]") {
  auto c = tiny_gpt2();
  c.hidden_size = 48;
  c.num_heads = 4;
  c.intermediate_size = 192;
  c.num_layers = 8;
  c.initializer_range = 0.04;
  torch::manual_seed(/*seed=*/42);
  auto model = make_gpt2(c);
  auto params = model->named_parameters();
  const double scaled = 0.04 / std::sqrt(2.0 * 8);
  CHECK(params["transformer.wte.weight"].std().item<double>() == Approx(0.04).epsilon(0.1));
  CHECK(params["transformer.h.3.attn.c_attn.weight"].std().item<double>() == Approx(0.04).epsilon(0.05));
  CHECK(params["transformer.h.3.attn.c_proj.weight"].std().item<double>() == Approx(scaled).epsilon(0.1));
  CHECK(params["transformer.h.3.mlp.c_proj.weight"].std().item<double>() == Approx(scaled).epsilon(0.05));
  CHECK(params["transformer.h.3.mlp.c_fc.weight"].std().item<double>() == Approx(0.04).epsilon(0.05));
  CHECK(params["transformer.h.3.mlp.c_fc.bias"].abs().max().item<double>() == 0.0);
  CHECK(torch::equal(params["transformer.h.3.ln_1.weight"], torch::ones({48})));
  CHECK(params["transformer.ln_f.bias"].abs().max().item<double>() == 0.0);
}

TEST_CASE("gpt2 gradients reach every parameter", "[backbone][gpt2]") {
  test::check_all_parameters_used(*random_double_gpt2(tiny_gpt2(), /*seed=*/52), {1, 2, 3, 4, 5});
}

TEST_CASE("gpt2 runs in float32 and bfloat16", "[backbone][gpt2]") {
  auto build = [] {
    torch::manual_seed(/*seed=*/63);
    auto model = make_gpt2(tiny_gpt2());
    test::randomize_parameters(*model, /*seed=*/64);
    return model;
  };
  test::check_reduced_precision(build, {3, 1, 4, 1, 5, 9, 2, 6});
}

}  // namespace hmt
