// OPT against a scalar per-position, per-head reference built from HF's
// modeling_opt order: x = project_in(embed) + positions[t + 2]; per layer
// attention then ReLU MLP, each with LayerNorm before the sublayer (pre-LN)
// or after the residual sum (post-LN); final LayerNorm (pre-LN only);
// project_out; logits against embed_tokens.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <cmath>
#include <string>
#include <vector>

#include "model/backbone_families.h"
#include "tests/model/backbone_checks.h"
#include "tests/model/naive_reference.h"

namespace hmt::opt_test {
namespace {

using test::Rows;
using test::Vec;

// Pre-LN with word_embed_proj_dim != hidden_size (project_in/out present).
BackboneConfig pre_ln_projected() {
  BackboneConfig c;
  c.model_type = "opt";
  c.family = Family::Opt;
  c.vocab_size = 50;
  c.hidden_size = 24;
  c.word_embed_proj_dim = 16;
  c.num_layers = 2;
  c.num_heads = 3;
  c.num_kv_heads = 3;
  c.intermediate_size = 40;
  c.max_position_embeddings = 12;
  c.norm_eps = 1e-5;
  c.tie_word_embeddings = true;
  c.do_layer_norm_before = true;
  c.resid_pdrop = 0.1;
  c.attn_pdrop = 0.1;
  c.activation = "relu";
  c.pad_token_id = 1;
  return c;
}

// OPT-350M's shape: post-LN, projected, no final layer norm.
BackboneConfig post_ln_projected() {
  auto c = pre_ln_projected();
  c.do_layer_norm_before = false;
  return c;
}

BackboneConfig pre_ln_untied() {
  auto c = pre_ln_projected();
  c.word_embed_proj_dim = c.hidden_size;
  c.tie_word_embeddings = false;
  return c;
}

std::set<std::string> expected_names(const BackboneConfig& c) {
  std::set<std::string> names{"model.decoder.embed_tokens.weight", "model.decoder.embed_positions.weight"};
  if (c.word_embed_proj_dim != c.hidden_size) {
    names.insert("model.decoder.project_in.weight");
    names.insert("model.decoder.project_out.weight");
  }
  if (c.do_layer_norm_before) {
    names.insert("model.decoder.final_layer_norm.weight");
    names.insert("model.decoder.final_layer_norm.bias");
  }
  if (!c.tie_word_embeddings) names.insert("lm_head.weight");
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string p = "model.decoder.layers." + std::to_string(i) + ".";
    for (const char* module : {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj",
                               "self_attn_layer_norm", "fc1", "fc2", "final_layer_norm"}) {
      names.insert(p + module + ".weight");
      names.insert(p + module + ".bias");
    }
  }
  return names;
}

int64_t expected_count(const BackboneConfig& c) {
  const int64_t d = c.hidden_size, e = c.word_embed_proj_dim, f = c.intermediate_size;
  const int64_t per_layer = 4 * (d * d + d) + 2 * d + (d * f + f) + (f * d + d) + 2 * d;
  int64_t total = c.vocab_size * e + (c.max_position_embeddings + 2) * d + c.num_layers * per_layer;
  if (e != d) total += 2 * e * d;
  if (c.do_layer_norm_before) total += 2 * d;
  if (!c.tie_word_embeddings) total += c.vocab_size * e;
  return total;
}

struct Naive {
  Rows logits, hidden;
};

Naive naive_opt(Backbone& m, const BackboneConfig& c, const std::vector<int64_t>& ids) {
  const int64_t hd = c.hidden_size / c.num_heads;
  const bool projected = c.word_embed_proj_dim != c.hidden_size;
  const bool pre = c.do_layer_norm_before;
  auto table = test::mat(m, "model.decoder.embed_tokens.weight");
  auto positions = test::mat(m, "model.decoder.embed_positions.weight");
  Rows x;
  for (size_t t = 0; t < ids.size(); ++t) {
    auto e = table.row(ids[t]);
    if (projected) e = test::linear(test::mat(m, "model.decoder.project_in.weight"), e);
    x.push_back(test::plus(e, positions.row(static_cast<int64_t>(t) + 2)));
  }
  const size_t n = x.size();

  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = "model.decoder.layers." + std::to_string(l) + ".";
    auto norm = [&](const std::string& name, const Vec& in) {
      return test::layer_norm(in, test::vec(m, p + name + ".weight"), test::vec(m, p + name + ".bias"), c.norm_eps);
    };
    auto lin = [&](const std::string& name, const Vec& in) {
      return test::plus(test::linear(test::mat(m, p + name + ".weight"), in), test::vec(m, p + name + ".bias"));
    };
    Rows q(n), k(n), v(n);
    for (size_t t = 0; t < n; ++t) {
      auto a = pre ? norm("self_attn_layer_norm", x[t]) : x[t];
      q[t] = lin("self_attn.q_proj", a);
      k[t] = lin("self_attn.k_proj", a);
      v[t] = lin("self_attn.v_proj", a);
    }
    auto att = test::causal_attention(q, k, v, c.num_heads, c.num_heads, hd, 1.0 / std::sqrt(double(hd)));
    for (size_t t = 0; t < n; ++t) {
      x[t] = test::plus(x[t], lin("self_attn.out_proj", att[t]));
      if (!pre) x[t] = norm("self_attn_layer_norm", x[t]);
      auto f = pre ? norm("final_layer_norm", x[t]) : x[t];
      x[t] = test::plus(x[t], lin("fc2", test::apply(lin("fc1", f), test::relu)));
      if (!pre) x[t] = norm("final_layer_norm", x[t]);
    }
  }
  Naive out;
  auto head = test::mat(m, c.tie_word_embeddings ? "model.decoder.embed_tokens.weight" : "lm_head.weight");
  for (size_t t = 0; t < n; ++t) {
    auto h = x[t];
    if (pre) {
      h = test::layer_norm(h, test::vec(m, "model.decoder.final_layer_norm.weight"),
                           test::vec(m, "model.decoder.final_layer_norm.bias"), c.norm_eps);
    }
    if (projected) h = test::linear(test::mat(m, "model.decoder.project_out.weight"), h);
    out.hidden.push_back(h);
    out.logits.push_back(test::linear(head, h));
  }
  return out;
}

std::shared_ptr<Backbone> random_double_opt(const BackboneConfig& c, uint64_t seed) {
  torch::manual_seed(seed);
  auto model = make_opt(c);
  model->to(torch::kDouble);
  test::randomize_parameters(*model, seed + 1);
  model->eval();
  return model;
}

const std::vector<BackboneConfig>& variants() {
  static const std::vector<BackboneConfig> all{pre_ln_projected(), post_ln_projected(), pre_ln_untied()};
  return all;
}

}  // namespace

TEST_CASE("opt parameter names are the HF names", "[backbone][opt]") {
  for (const auto& c : variants()) {
    INFO("pre-LN " << c.do_layer_norm_before << " proj " << c.word_embed_proj_dim << " tied " << c.tie_word_embeddings);
    auto model = make_opt(c);
    CHECK(test::parameter_names(*model) == expected_names(c));
    CHECK(model->named_parameters().size() == expected_names(c).size());
  }
  auto params = make_opt(pre_ln_projected())->named_parameters();
  CHECK(params["model.decoder.embed_positions.weight"].sizes() == torch::IntArrayRef({14, 24}));
  CHECK(params["model.decoder.project_in.weight"].sizes() == torch::IntArrayRef({24, 16}));
  CHECK(params["model.decoder.project_out.weight"].sizes() == torch::IntArrayRef({16, 24}));
}

TEST_CASE("opt parameter count matches the closed form", "[backbone][opt]") {
  for (const auto& c : variants()) CHECK(test::parameter_count(*make_opt(c)) == expected_count(c));
}

TEST_CASE("opt logits and hidden match the per-position reference", "[backbone][opt]") {
  const std::vector<std::vector<int64_t>> rows{{3, 17, 42, 8, 8, 29, 1, 30}, {49, 0, 12, 33, 7, 21, 5, 5}};
  for (const auto& c : variants()) {
    INFO("pre-LN " << c.do_layer_norm_before << " proj " << c.word_embed_proj_dim << " tied " << c.tie_word_embeddings);
    auto model = random_double_opt(c, /*seed=*/13);
    torch::NoGradGuard no_grad;
    auto ids = torch::cat({test::id_tensor(rows[0]), test::id_tensor(rows[1])}, /*dim=*/0);
    auto embeds = model->embed(ids);
    REQUIRE(embeds.sizes() == torch::IntArrayRef({2, 8, c.word_embed_proj_dim}));
    auto out = model->forward(embeds);
    REQUIRE(out.logits.sizes() == torch::IntArrayRef({2, 8, c.vocab_size}));
    REQUIRE(out.last_hidden.sizes() == torch::IntArrayRef({2, 8, c.word_embed_proj_dim}));
    for (int64_t b = 0; b < 2; ++b) {
      auto expected = naive_opt(*model, c, rows[b]);
      CHECK(test::max_abs_diff(test::rows_of(out.logits, b, 0, 8), expected.logits) < 1e-10);
      CHECK(test::max_abs_diff(test::rows_of(out.last_hidden, b, 0, 8), expected.hidden) < 1e-10);
    }
  }
}

TEST_CASE("opt left-padded rows equal the rows alone", "[backbone][opt]") {
  for (const auto& c : {pre_ln_projected(), post_ln_projected()}) {
    auto model = random_double_opt(c, /*seed=*/23);
    test::check_left_padding(*model, {5, 9, 14, 2, 40}, {7, 7, 31, 2, 19, 44, 3, 10, 1});
  }
}

TEST_CASE("opt dropout replays after re-seeding, each knob is wired", "[backbone][opt]") {
  const std::vector<int64_t> ids{4, 8, 15, 16, 23, 42};
  test::check_dropout_replay(*random_double_opt(post_ln_projected(), /*seed=*/34), ids);
  auto only = [](double resid, double attn) {
    auto c = pre_ln_projected();
    c.resid_pdrop = resid;
    c.attn_pdrop = attn;
    return c;
  };
  CHECK(test::dropout_changes_output(*random_double_opt(only(0.3, 0), /*seed=*/35), ids));
  CHECK(test::dropout_changes_output(*random_double_opt(only(0, 0.3), /*seed=*/35), ids));
  CHECK_FALSE(test::dropout_changes_output(*random_double_opt(only(0, 0), /*seed=*/35), ids));
}

TEST_CASE("opt init follows HF _init_weights", "[backbone][opt]") {
  auto c = pre_ln_projected();
  c.vocab_size = 300;
  c.initializer_range = 0.03;
  torch::manual_seed(/*seed=*/43);
  auto model = make_opt(c);
  auto params = model->named_parameters();
  auto table = params["model.decoder.embed_tokens.weight"];
  CHECK(table[c.pad_token_id].abs().max().item<double>() == 0.0);
  CHECK(table.std().item<double>() == Approx(0.03).epsilon(0.1));
  CHECK(params["model.decoder.embed_positions.weight"].std().item<double>() == Approx(0.03).epsilon(0.15));
  CHECK(params["model.decoder.layers.0.fc1.weight"].std().item<double>() == Approx(0.03).epsilon(0.1));
  CHECK(params["model.decoder.layers.0.fc1.bias"].abs().max().item<double>() == 0.0);
  CHECK(torch::equal(params["model.decoder.layers.1.final_layer_norm.weight"], torch::ones({24})));
  CHECK(params["model.decoder.final_layer_norm.bias"].abs().max().item<double>() == 0.0);
}

TEST_CASE("opt gradients reach every parameter", "[backbone][opt]") {
  for (const auto& c : variants()) {
    test::check_all_parameters_used(*random_double_opt(c, /*seed=*/53), {1, 2, 3, 4, 5});
  }
}

TEST_CASE("opt rejects embeds of the wrong width", "[backbone][opt]") {
  auto model = make_opt(pre_ln_projected());
  CHECK_THROWS_WITH(model->forward(torch::zeros({1, 3, 24})), Catch::Contains("width 24"));
}

TEST_CASE("opt runs in float32 and bfloat16", "[backbone][opt]") {
  auto build = [] {
    torch::manual_seed(/*seed=*/65);
    auto model = make_opt(post_ln_projected());
    test::randomize_parameters(*model, /*seed=*/66);
    return model;
  };
  test::check_reduced_precision(build, {3, 1, 4, 1, 5, 9, 2, 6});
}

}  // namespace hmt::opt_test
