#include <catch2/catch.hpp>

#include <cmath>

#include "core/error.h"
#include "model/backbone.h"
#include "model/layers.h"
#include "model/lora.h"
#include "model/safetensors.h"
#include "tests/model/naive_reference.h"
#include "tests/model/tiny_backbone_config.h"
#include "tests/test_paths.h"

using Catch::Contains;
using hmt::test::Mat;
using hmt::test::Vec;

namespace {

// Two kv heads, so the llama-family v_proj adapters are narrower than q_proj's.
hmt::BackboneConfig tiny(const std::string& model_type) {
  if (model_type == "gpt2" || model_type == "opt") return hmt::test::tiny_backbone_config(model_type);
  return hmt::test::tiny_backbone_config(model_type, {{"num_key_value_heads", 2}});
}

hmt::LoraConfig lora_config(int64_t rank, double alpha, double dropout, std::vector<std::string> targets = {}) {
  hmt::LoraConfig c;
  c.enabled = true;
  c.rank = rank;
  c.alpha = alpha;
  c.dropout = dropout;
  c.target_modules = std::move(targets);
  return c;
}

// A random model in `dtype`, eval mode, every base tensor away from its init.
std::shared_ptr<hmt::Backbone> random_model(const std::string& model_type, torch::Dtype dtype, uint64_t seed) {
  torch::manual_seed(seed);
  auto model = hmt::make_backbone(tiny(model_type));
  model->to(dtype);
  hmt::test::randomize_parameters(*model, seed);
  model->eval();
  return model;
}

// Only the adapter tensors random: B leaves zero so the update is non-trivial.
void randomize_adapters(torch::nn::Module& model, uint64_t seed) {
  torch::manual_seed(seed);
  torch::NoGradGuard no_grad;
  for (auto& item : model.named_parameters())
    if (item.key().find(".lora_") != std::string::npos) item.value().normal_(/*mean=*/0.0, /*std=*/0.3);
}

std::vector<std::string> adapter_names(torch::nn::Module& model) {
  std::vector<std::string> names;
  for (const auto& item : model.named_parameters())
    if (item.key().find("lora") != std::string::npos) names.push_back(item.key());
  return names;
}

torch::Tensor logits_of(hmt::Backbone& model, const std::vector<int64_t>& ids) {
  torch::NoGradGuard no_grad;
  return model.forward(model.embed(hmt::test::id_tensor(ids))).logits;
}

double max_abs(const torch::Tensor& t) { return t.abs().max().item<double>(); }

const std::vector<int64_t> kIds = {3, 17, 42, 5, 9, 61, 0, 28};

// Rows of a [N, X] double tensor.
std::vector<Vec> rows(const torch::Tensor& t) {
  auto c = t.contiguous();
  std::vector<Vec> out;
  for (int64_t i = 0; i < c.size(0); ++i)
    out.emplace_back(c[i].data_ptr<double>(), c[i].data_ptr<double>() + c.size(1));
  return out;
}

// x W^T + b (Linear) or x W + b (Conv1D), plus (x A^T B^T) * scale, one row
// at a time with plain loops.
Vec by_hand(const Vec& x, const Mat& w, bool conv, const Vec& b, const Mat& a, const Mat& bm, double scale) {
  Vec y = conv ? hmt::test::conv1d(x, w) : hmt::test::linear(w, x);
  Vec low = hmt::test::linear(a, x);    // A [r, in]
  Vec up = hmt::test::linear(bm, low);  // B [out, r]
  for (size_t i = 0; i < y.size(); ++i) y[i] += b[i] + up[i] * scale;
  return y;
}

}  // namespace

TEST_CASE("lora: adapter forward of Linear and Conv1D equals x W + b + x A^T B^T alpha/r by hand", "[lora]") {
  const int64_t in = 6, out = 5, rank = 3;
  const double alpha = 4.5;
  for (bool conv : {false, true}) {
    INFO((conv ? "Conv1D" : "Linear"));
    torch::manual_seed(11);
    std::shared_ptr<torch::nn::Module> module;
    hmt::layers::LoraAdapter* adapter = nullptr;
    if (conv) {
      auto m = std::make_shared<hmt::layers::Conv1D>(in, out, /*init_std=*/0.5);
      m->to(torch::kDouble);
      m->lora.attach(*m, in, out, rank, alpha, /*dropout=*/0.3, m->weight);
      module = m;
      adapter = &m->lora;
    } else {
      auto m = std::make_shared<hmt::layers::Linear>(in, out, /*with_bias=*/true, /*init_std=*/0.5);
      m->to(torch::kDouble);
      m->lora.attach(*m, in, out, rank, alpha, /*dropout=*/0.3, m->weight);
      module = m;
      adapter = &m->lora;
    }
    // PEFT's shapes whatever the base storage: A [r, in], B [out, r].
    CHECK(adapter->lora_A->weight.sizes() == torch::IntArrayRef({rank, in}));
    CHECK(adapter->lora_B->weight.sizes() == torch::IntArrayRef({out, rank}));
    CHECK(adapter->lora_A->weight.scalar_type() == torch::kDouble);
    CHECK(torch::equal(adapter->lora_B->weight, torch::zeros({out, rank}, torch::kDouble)));
    randomize_adapters(*module, /*seed=*/12);
    {
      torch::NoGradGuard no_grad;
      for (auto& item : module->named_parameters())
        if (item.key() == "bias") item.value().normal_(/*mean=*/0.0, /*std=*/0.5);
    }
    module->eval();  // dropout off: the adapter sees x itself

    auto x = torch::randn({2, 4, in}, torch::kDouble);
    auto y = conv ? std::static_pointer_cast<hmt::layers::Conv1D>(module)->forward(x)
                  : std::static_pointer_cast<hmt::layers::Linear>(module)->forward(x);
    REQUIRE(y.sizes() == torch::IntArrayRef({2, 4, out}));
    const Mat w = hmt::test::mat(*module, "weight"), a = hmt::test::mat(*module, "lora_A.weight"),
              b = hmt::test::mat(*module, "lora_B.weight");
    const Vec bias = hmt::test::vec(*module, "bias");
    auto xs = rows(x.reshape({-1, in})), ys = rows(y.reshape({-1, out}));
    double worst = 0;
    for (size_t i = 0; i < xs.size(); ++i) {
      Vec expect = by_hand(xs[i], w, conv, bias, a, b, alpha / static_cast<double>(rank));
      for (size_t j = 0; j < expect.size(); ++j) worst = std::max(worst, std::abs(expect[j] - ys[i][j]));
    }
    CHECK(worst < 1e-12);
  }
}

TEST_CASE("lora: A is kaiming-uniform(a=sqrt(5)) like PEFT, bound 1/sqrt(in)", "[lora]") {
  const int64_t in = 64, out = 16, rank = 8;
  torch::manual_seed(5);
  hmt::layers::Linear m(in, out, /*with_bias=*/false, /*init_std=*/0.02);
  m.lora.attach(m, in, out, rank, /*alpha=*/16.0, /*dropout=*/0.0, m.weight);
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  const double largest = max_abs(m.lora.lora_A->weight);
  CHECK(largest <= bound);
  CHECK(largest > 0.95 * bound);  // 512 uniform draws reach near the bound
  CHECK(m.lora.scaling == 2.0);
}

TEST_CASE("lora: dropout hits the adapter input only, and only in training mode", "[lora]") {
  // With A = B = I and alpha = r the update is dropout(x) itself, so each
  // element of y - (x W^T + b) must be 0 or x / (1 - p).
  const int64_t width = 4;
  const double p = 0.5;
  torch::manual_seed(21);
  hmt::layers::Linear m(width, width, /*with_bias=*/true, /*init_std=*/0.5);
  m.to(torch::kDouble);
  m.lora.attach(m, width, width, /*rank=*/width, /*alpha=*/static_cast<double>(width), p, m.weight);
  {
    torch::NoGradGuard no_grad;
    m.lora.lora_A->weight.copy_(torch::eye(width, torch::kDouble));
    m.lora.lora_B->weight.copy_(torch::eye(width, torch::kDouble));
    m.bias.normal_(/*mean=*/0.0, /*std=*/0.5);
  }
  auto x = torch::rand({50, width}, torch::kDouble) + 0.5;  // no zeros, so a dropped element is visible
  const Mat w = hmt::test::mat(m, "weight");
  const Vec b = hmt::test::vec(m, "bias");
  auto residual = [&](const torch::Tensor& y) {
    std::vector<Vec> out;
    auto xs = rows(x), ys = rows(y.detach());
    for (size_t i = 0; i < xs.size(); ++i) {
      Vec base = hmt::test::linear(w, xs[i]);
      Vec r(static_cast<size_t>(width));
      for (int64_t j = 0; j < width; ++j) r[j] = ys[i][j] - base[j] - b[j];
      out.push_back(r);
    }
    return out;
  };

  m.eval();
  auto eval_residual = residual(m.forward(x));
  auto xs = rows(x);
  double worst = 0;
  for (size_t i = 0; i < xs.size(); ++i)
    for (int64_t j = 0; j < width; ++j) worst = std::max(worst, std::abs(eval_residual[i][j] - xs[i][j]));
  CHECK(worst < 1e-12);

  m.train();
  auto train_residual = residual(m.forward(x));
  int dropped = 0, kept = 0, other = 0;
  for (size_t i = 0; i < xs.size(); ++i)
    for (int64_t j = 0; j < width; ++j) {
      if (std::abs(train_residual[i][j]) < 1e-12) ++dropped;
      else if (std::abs(train_residual[i][j] - xs[i][j] / (1.0 - p)) < 1e-12) ++kept;
      else ++other;
    }
  CHECK(other == 0);  // the base path x W^T + b saw no dropout
  CHECK(dropped > 40);
  CHECK(kept > 40);
}

TEST_CASE("lora: family default targets give PEFT's module lists and parameter names", "[lora]") {
  struct Case {
    std::string model_type;
    std::vector<std::string> modules;  // registration order
  };
  const std::vector<Case> cases = {
      {"llama",
       {"model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj", "model.layers.1.self_attn.q_proj",
        "model.layers.1.self_attn.v_proj"}},
      {"gpt2", {"transformer.h.0.attn.c_attn", "transformer.h.1.attn.c_attn"}},
      // OPT registers k, v, q, out_proj in that order.
      {"opt",
       {"model.decoder.layers.0.self_attn.v_proj", "model.decoder.layers.0.self_attn.q_proj",
        "model.decoder.layers.1.self_attn.v_proj", "model.decoder.layers.1.self_attn.q_proj"}},
  };
  for (const auto& c : cases) {
    INFO(c.model_type);
    torch::manual_seed(1);
    auto model = hmt::make_backbone(tiny(c.model_type));
    CHECK(hmt::lora_module_names(*model).empty());
    auto attached = hmt::attach_lora(*model, lora_config(/*rank=*/4, /*alpha=*/8.0, /*dropout=*/0.0));
    CHECK(attached == c.modules);
    CHECK(hmt::lora_module_names(*model) == c.modules);

    std::vector<std::string> expected_names;
    for (const auto& m : c.modules) {
      expected_names.push_back(m + ".lora_A.weight");
      expected_names.push_back(m + ".lora_B.weight");
    }
    CHECK(adapter_names(*model) == expected_names);
    auto params = model->named_parameters();
    // The first module is a d -> d map, except gpt2's fused q/k/v (3 d).
    const int64_t out = c.model_type == "gpt2" ? 96 : 32;
    CHECK(params[c.modules[0] + ".lora_A.weight"].sizes() == torch::IntArrayRef({4, 32}));
    CHECK(params[c.modules[0] + ".lora_B.weight"].sizes() == torch::IntArrayRef({out, 4}));
  }
  // llama's v_proj has kv_heads * head_dim = 16 outputs.
  torch::manual_seed(1);
  auto llama = hmt::make_backbone(tiny("llama"));
  hmt::attach_lora(*llama, lora_config(/*rank=*/4, /*alpha=*/8.0, /*dropout=*/0.0, {"v_proj"}));
  CHECK(llama->named_parameters()["model.layers.1.self_attn.v_proj.lora_B.weight"].sizes() ==
        torch::IntArrayRef({16, 4}));
  CHECK(hmt::default_lora_targets(tiny("mistral").family) == std::vector<std::string>{"q_proj", "v_proj"});
}

TEST_CASE("lora: explicit targets match by HF name suffix", "[lora]") {
  torch::manual_seed(1);
  auto model = hmt::make_backbone(tiny("llama"));
  auto attached = hmt::attach_lora(*model, lora_config(/*rank=*/2, /*alpha=*/4.0, /*dropout=*/0.0,
                                                       {"layers.1.mlp.down_proj", "o_proj"}));
  CHECK(attached == std::vector<std::string>{"model.layers.0.self_attn.o_proj", "model.layers.1.self_attn.o_proj",
                                             "model.layers.1.mlp.down_proj"});
}

TEST_CASE("lora: an unknown target is an error naming it and the family's linear modules", "[lora]") {
  torch::manual_seed(1);
  auto model = hmt::make_backbone(tiny("llama"));
  auto bad = lora_config(/*rank=*/2, /*alpha=*/4.0, /*dropout=*/0.0, {"q_proj", "c_attn"});
  REQUIRE_THROWS_AS(hmt::attach_lora(*model, bad), hmt::Error);
  REQUIRE_THROWS_WITH(hmt::attach_lora(*model, bad),
                      Contains("\"c_attn\" matches no linear module") &&
                          Contains("down_proj, gate_proj, k_proj, lm_head, o_proj, q_proj, up_proj, v_proj"));
  CHECK(hmt::lora_module_names(*model).empty());  // nothing attached by the failed call

  hmt::attach_lora(*model, lora_config(/*rank=*/2, /*alpha=*/4.0, /*dropout=*/0.0));
  REQUIRE_THROWS_WITH(hmt::attach_lora(*model, lora_config(/*rank=*/2, /*alpha=*/4.0, /*dropout=*/0.0)),
                      Contains("\"model.layers.0.self_attn.q_proj\" already has an adapter"));
}

TEST_CASE("lora: with B = 0 at init the logits equal the base model's", "[lora]") {
  for (const char* type : {"llama", "gpt2", "opt"}) {
    INFO(type);
    auto model = random_model(type, torch::kFloat, /*seed=*/7);
    auto base = logits_of(*model, kIds);
    hmt::attach_lora(*model, lora_config(/*rank=*/4, /*alpha=*/32.0, /*dropout=*/0.1));
    CHECK(torch::equal(logits_of(*model, kIds), base));
    randomize_adapters(*model, /*seed=*/8);
    CHECK(max_abs(logits_of(*model, kIds) - base) > 1e-3);  // the adapters are wired in
  }
}

TEST_CASE("lora: merge keeps the logits and the merged model reloads as a plain HF model", "[lora]") {
  struct Precision {
    torch::Dtype dtype;
    double tolerance;
  };
  for (const char* type : {"llama", "gpt2", "opt"}) {
    for (const auto& precision : {Precision{torch::kFloat, 1e-5}, Precision{torch::kDouble, 1e-12}}) {
      INFO(type << " " << c10::toString(precision.dtype));
      auto model = random_model(type, precision.dtype, /*seed=*/31);
      // rank 4 on every linear map of the family, so Linear and Conv1D
      // (c_attn, c_proj, c_fc) merges are all exercised.
      auto all = hmt::linear_module_names(*model);
      hmt::attach_lora(*model, lora_config(/*rank=*/4, /*alpha=*/6.0, /*dropout=*/0.1, all));
      randomize_adapters(*model, /*seed=*/32);
      auto before = logits_of(*model, kIds);
      auto no_adapter = random_model(type, precision.dtype, /*seed=*/31);
      REQUIRE(max_abs(before - logits_of(*no_adapter, kIds)) > 1e-2);

      hmt::merge_lora(*model);
      CHECK(adapter_names(*model).empty());
      CHECK(hmt::lora_module_names(*model).empty());
      auto after = logits_of(*model, kIds);
      CHECK(max_abs(after - before) / std::max(1.0, max_abs(before)) < precision.tolerance);

      auto dir = hmt::test::temp_dir(std::string("lora_merged_") + type);
      hmt::save_backbone(*model, dir.string());
      auto plain = hmt::load_backbone(dir.string(), precision.dtype);
      CHECK(adapter_names(*plain).empty());
      CHECK(torch::equal(logits_of(*plain, kIds), after));
    }
  }
}

TEST_CASE("lora: save_backbone writes no adapter tensors", "[lora]") {
  for (const char* type : {"llama", "gpt2"}) {
    INFO(type);
    auto model = random_model(type, torch::kFloat, /*seed=*/41);
    auto plain_names = hmt::test::parameter_names(*model);
    hmt::attach_lora(*model, lora_config(/*rank=*/2, /*alpha=*/4.0, /*dropout=*/0.0));
    randomize_adapters(*model, /*seed=*/42);
    auto dir = hmt::test::temp_dir(std::string("lora_save_backbone_") + type);
    hmt::save_backbone(*model, dir.string());
    hmt::SafetensorsFile file((dir / "model.safetensors").string());
    auto names = file.names();
    std::set<std::string> written(names.begin(), names.end());
    CHECK(written == plain_names);
    // It is the base model: the adapters' update is not in it.
    auto reloaded = hmt::load_backbone(dir.string());
    auto base = random_model(type, torch::kFloat, /*seed=*/41);
    CHECK(torch::equal(logits_of(*reloaded, kIds), logits_of(*base, kIds)));
  }
}

TEST_CASE("lora: saved adapters load back bitwise, and mismatches are errors", "[lora]") {
  auto model = random_model("gpt2", torch::kFloat, /*seed=*/51);
  const auto config = lora_config(/*rank=*/4, /*alpha=*/16.0, /*dropout=*/0.0);
  hmt::attach_lora(*model, config);
  randomize_adapters(*model, /*seed=*/52);
  auto dir = hmt::test::temp_dir("lora_adapters");
  const std::string path = (dir / "adapters.safetensors").string();
  hmt::save_lora_adapters(*model, path);

  hmt::SafetensorsFile file(path);
  CHECK(file.names() == std::vector<std::string>{"transformer.h.0.attn.c_attn.lora_A.weight",
                                                 "transformer.h.0.attn.c_attn.lora_B.weight",
                                                 "transformer.h.1.attn.c_attn.lora_A.weight",
                                                 "transformer.h.1.attn.c_attn.lora_B.weight"});

  auto other = random_model("gpt2", torch::kFloat, /*seed=*/51);
  hmt::attach_lora(*other, config);  // fresh A, zero B
  hmt::load_lora_adapters(*other, path);
  auto source = model->named_parameters();
  for (const auto& item : other->named_parameters())
    if (item.key().find(".lora_") != std::string::npos) {
      INFO(item.key());
      CHECK(torch::equal(item.value(), source[item.key()]));
    }
  CHECK(torch::equal(logits_of(*other, kIds), logits_of(*model, kIds)));

  auto wrong_rank = random_model("gpt2", torch::kFloat, /*seed=*/51);
  hmt::attach_lora(*wrong_rank, lora_config(/*rank=*/2, /*alpha=*/8.0, /*dropout=*/0.0));
  REQUIRE_THROWS_WITH(hmt::load_lora_adapters(*wrong_rank, path),
                      Contains(path) && Contains("shape mismatch for \"transformer.h.0.attn.c_attn.lora_A.weight\": "
                                                 "model [2, 32], file [4, 32]"));
  auto wrong_alpha = random_model("gpt2", torch::kFloat, /*seed=*/51);
  hmt::attach_lora(*wrong_alpha, lora_config(/*rank=*/4, /*alpha=*/32.0, /*dropout=*/0.0));
  REQUIRE_THROWS_WITH(hmt::load_lora_adapters(*wrong_alpha, path),
                      Contains("scaling (alpha / r) differs: model 8, file 4"));
  auto wrong_targets = random_model("gpt2", torch::kFloat, /*seed=*/51);
  hmt::attach_lora(*wrong_targets, lora_config(/*rank=*/4, /*alpha=*/16.0, /*dropout=*/0.0, {"c_fc"}));
  REQUIRE_THROWS_WITH(hmt::load_lora_adapters(*wrong_targets, path),
                      Contains("missing tensor \"transformer.h.0.mlp.c_fc.lora_A.weight\"") &&
                          Contains("unexpected tensor \"transformer.h.0.attn.c_attn.lora_B.weight\""));
  auto bare = random_model("gpt2", torch::kFloat, /*seed=*/51);
  REQUIRE_THROWS_WITH(hmt::load_lora_adapters(*bare, path), Contains("no LoRA adapters"));
  REQUIRE_THROWS_WITH(hmt::save_lora_adapters(*bare, path), Contains("no LoRA adapters"));
}
