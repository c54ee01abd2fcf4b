// AdamW parameter groups and the state round trip through safetensors.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <map>
#include <set>

#include "model/safetensors.h"
#include "tests/test_paths.h"
#include "tests/model/hmt_fixtures.h"
#include "trainer/optimizer.h"

namespace {

std::set<std::string> decayed_names(const std::vector<hmt::NamedParameter>& params) {
  std::set<std::string> out;
  for (const auto& p : params)
    if (p.decay) out.insert(p.name);
  return out;
}

}  // namespace

TEST_CASE("optimizer: no weight decay on norms, biases and hmt.* tensors, tied weights once", "[trainer][optimizer]") {
  for (auto family : {hmt::Family::Llama, hmt::Family::Gpt2}) {
    INFO(hmt::test::family_label(family));
    auto model = hmt::test::tiny_hmt(family, hmt::test::tiny_hmt_config(4, 2, true, 3), torch::kFloat32);
    auto params = hmt::trainable_parameters(*model);
    std::set<const void*> impls;
    for (const auto& p : params) CHECK(impls.insert(p.tensor.unsafeGetTensorImpl()).second);
    for (const auto& p : params) {
      INFO(p.name);
      const bool norm_or_bias = p.tensor.dim() < 2 || p.name.find(".bias") != std::string::npos;
      CHECK(p.decay == (!norm_or_bias && p.name.rfind("hmt.", 0) != 0));
    }
    auto decayed = decayed_names(params);
    CHECK(decayed.count("hmt.recall.wq.weight") == 0);
    CHECK(decayed.count(family == hmt::Family::Llama ? "backbone.model.layers.0.self_attn.q_proj.weight"
                                                     : "backbone.transformer.h.0.attn.c_attn.weight") == 1);
    CHECK(decayed.count(family == hmt::Family::Llama ? "backbone.model.norm.weight"
                                                     : "backbone.transformer.ln_f.weight") == 0);
  }
}

TEST_CASE("optimizer: weight decay is decoupled and skips the undecayed group", "[trainer][optimizer]") {
  auto w = torch::ones({2, 2}).requires_grad_();
  auto b = torch::ones({2}).requires_grad_();
  hmt::OptimizerConfig config;
  config.weight_decay = 0.5;
  hmt::Optimizer opt({{"w", w, true}, {"b", b, false}}, config);
  opt.set_lr(0.1);
  // Zero gradients: Adam's update is 0/(0+eps) = 0, so only decay moves w.
  w.mutable_grad() = torch::zeros_like(w);
  b.mutable_grad() = torch::zeros_like(b);
  opt.step();
  CHECK(torch::allclose(w, torch::full({2, 2}, 1.0 - 0.1 * 0.5)));
  CHECK(torch::equal(b, torch::ones({2})));
}

TEST_CASE("optimizer: hmt_lr_scale multiplies the learning rate of the hmt.* tensors only", "[trainer][optimizer]") {
  // Adam's first step moves every element by lr x g / (|g| + eps) = lr x sign(g)
  // (bias corrections cancel at step 1); weight decay 0 isolates that.
  auto model = hmt::test::tiny_hmt(hmt::Family::Llama, hmt::test::tiny_hmt_config(4, 2, true, 3), torch::kFloat32);
  hmt::OptimizerConfig config;
  config.weight_decay = 0.0;
  config.hmt_lr_scale = 10.0;
  hmt::Optimizer opt(hmt::trainable_parameters(*model), config);
  std::map<std::string, torch::Tensor> before;
  for (const auto& p : opt.parameters()) {
    before[p.name] = p.tensor.detach().clone();
    p.tensor.mutable_grad() = torch::ones_like(p.tensor);
  }
  opt.set_lr(1e-3);
  opt.step();
  int64_t memory_tensors = 0;
  for (const auto& p : opt.parameters()) {
    INFO(p.name);
    const bool memory = p.name.rfind("hmt.", 0) == 0;
    memory_tensors += memory;
    const double expected = memory ? 1e-2 : 1e-3;
    CHECK(torch::allclose(before[p.name] - p.tensor.detach(), torch::full_like(p.tensor, expected),
                          /*rtol=*/1e-4, /*atol=*/1e-7));
  }
  CHECK(memory_tensors >= 4);  // memory embedding, prompt, recall maps
}

TEST_CASE("optimizer: state saved by name and loaded into a fresh optimizer continues bit for bit",
          "[trainer][optimizer]") {
  auto make = [] {
    return hmt::test::tiny_hmt(hmt::Family::Llama, hmt::test::tiny_hmt_config(4, 2, false, 3), torch::kFloat32);
  };
  auto a = make(), b = make();
  hmt::OptimizerConfig config;
  hmt::Optimizer opt_a(hmt::trainable_parameters(*a), config);
  auto step = [](hmt::HmtModel& m, hmt::Optimizer& opt, uint64_t seed) {
    opt.zero_grad();
    torch::manual_seed(seed);
    auto loss = torch::zeros({});
    for (const auto& p : opt.parameters()) loss = loss + (p.tensor * torch::randn_like(p.tensor)).sum();
    loss.backward();
    opt.set_lr(1e-2);
    opt.step();
  };
  for (uint64_t s = 0; s < 3; ++s) step(*a, opt_a, s);
  auto dir = hmt::test::temp_dir("optimizer_state");
  const auto path = (dir / "optimizer.safetensors").string();
  hmt::save_safetensors(path, opt_a.state());
  {
    torch::NoGradGuard no_grad;
    for (const auto& item : a->named_parameters()) b->named_parameters()[item.key()].copy_(item.value());
  }
  hmt::Optimizer opt_b(hmt::trainable_parameters(*b), config);
  opt_b.load_state(hmt::SafetensorsFile(path));
  step(*a, opt_a, 9);
  step(*b, opt_b, 9);
  for (const auto& item : a->named_parameters()) {
    INFO(item.key());
    CHECK(torch::equal(item.value(), b->named_parameters()[item.key()]));
  }

  // A state file of another model names the tensor that does not fit.
  hmt::save_safetensors(path, {{"backbone.nope.weight.exp_avg", torch::zeros({1})}});
  CHECK_THROWS_WITH(opt_b.load_state(hmt::SafetensorsFile(path)),
                    Catch::Contains("\"backbone.nope.weight.exp_avg\" belongs to no trainable parameter"));
}
