// HmtModel against docs/hmt.md sections 2-3: parameter names, shapes and init,
// tensor loading, and each of the three computations rebuilt by hand from
// backbone.embed / backbone.forward and the parameters read by name.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <cmath>
#include <set>
#include <string>

#include "core/error.h"
#include "tests/model/hmt_fixtures.h"

namespace hmt {
namespace {

using test::named;
using test::relative_difference;

const char* embedding_name(Family family) {
  switch (family) {
    case Family::Llama: return "model.embed_tokens.weight";
    case Family::Gpt2: return "transformer.wte.weight";
    case Family::Opt: return "model.decoder.embed_tokens.weight";
  }
  return "";
}

TEST_CASE("hmt model: parameter names, shapes and the spec's init", "[hmt][hmt_model]") {
  for (Family family : {Family::Llama, Family::Gpt2, Family::Opt}) {
    INFO(test::family_label(family));
    auto config = test::tiny_hmt_config(/*segment_length=*/5, /*sensory=*/2, /*recall=*/true, /*context=*/3);
    auto model = test::tiny_hmt(family, config, torch::kFloat, /*dropout=*/0.0, /*seed=*/11);
    const int64_t d = model->backbone().embed_dim(), h = config.recall.hidden_dim;

    std::set<std::string> hmt_names;
    for (const auto& item : model->named_parameters())
      if (item.key().rfind("backbone.", 0) != 0) hmt_names.insert(item.key());
    CHECK(hmt_names ==
          std::set<std::string>{"hmt.memory", "hmt.summary_prompt", "hmt.recall.wq.weight", "hmt.recall.wk.weight"});
    CHECK(named(*model, "hmt.memory").sizes() == torch::IntArrayRef{1, d});
    CHECK(named(*model, "hmt.summary_prompt").sizes() == torch::IntArrayRef{1, d});
    CHECK(named(*model, "hmt.recall.wq.weight").sizes() == torch::IntArrayRef{h, d});
    CHECK(named(*model, "hmt.recall.wk.weight").sizes() == torch::IntArrayRef{h, d});

    // Replay the generator: the backbone's draws, then memory, prompt, wq, wk.
    torch::manual_seed(11);
    auto backbone = make_backbone(test::tiny_backbone(family, /*dropout=*/0.0));
    const double table_std = named(*backbone, embedding_name(family)).detach().to(torch::kDouble).std().item<double>();
    auto memory = torch::randn({1, d}) * table_std;
    auto prompt = torch::randn({1, d}) * table_std;
    const double bound = 1.0 / std::sqrt(static_cast<double>(d));
    auto wq = torch::empty({h, d}).uniform_(-bound, bound);
    auto wk = torch::empty({h, d}).uniform_(-bound, bound);
    CHECK(relative_difference(named(*model, "hmt.memory"), memory) < 1e-6);
    CHECK(relative_difference(named(*model, "hmt.summary_prompt"), prompt) < 1e-6);
    CHECK(relative_difference(named(*model, "hmt.recall.wq.weight"), wq) < 1e-6);
    CHECK(relative_difference(named(*model, "hmt.recall.wk.weight"), wk) < 1e-6);
  }
}

TEST_CASE("hmt model: hmt_tensors follows recall and load_hmt_tensors round-trips", "[hmt][hmt_model]") {
  auto config = test::tiny_hmt_config(/*segment_length=*/4, /*sensory=*/1, /*recall=*/false, /*context=*/2);
  auto source = test::tiny_hmt(Family::Llama, config, torch::kFloat, /*dropout=*/0.0, /*seed=*/1);
  auto target = test::tiny_hmt(Family::Llama, config, torch::kFloat, /*dropout=*/0.0, /*seed=*/2);
  auto stage1 = source->hmt_tensors();
  REQUIRE(stage1.size() == 1);
  CHECK(stage1[0].first == "hmt.memory");

  source->set_recall_enabled(true);
  target->set_recall_enabled(true);
  auto stage2 = source->hmt_tensors();
  std::vector<std::string> names;
  for (const auto& [name, value] : stage2) names.push_back(name);
  CHECK(names ==
        std::vector<std::string>{"hmt.memory", "hmt.summary_prompt", "hmt.recall.wq.weight", "hmt.recall.wk.weight"});
  REQUIRE_FALSE(torch::equal(named(*target, "hmt.recall.wk.weight"), named(*source, "hmt.recall.wk.weight")));
  target->load_hmt_tensors(stage2, "a.safetensors");
  for (const auto& [name, value] : stage2) CHECK(torch::equal(named(*target, name), value));

  REQUIRE_THROWS_WITH(target->load_hmt_tensors(stage1, "s1.safetensors"),
                      "s1.safetensors: missing tensor hmt.summary_prompt");
  auto unknown = stage2;
  unknown.emplace_back("hmt.extra", torch::zeros({1}));
  REQUIRE_THROWS_WITH(target->load_hmt_tensors(unknown, "u.safetensors"),
                      Catch::StartsWith("u.safetensors: unknown tensor hmt.extra"));
  auto wrong = stage2;
  wrong[0].second = torch::zeros({1, 3});
  REQUIRE_THROWS_WITH(target->load_hmt_tensors(wrong, "w.safetensors"),
                      "w.safetensors: tensor hmt.memory has shape [1, 3], expected [1, 16]");
  // Stage 1 files load into a stage 1 model: the recall tensors are not required.
  target->set_recall_enabled(false);
  CHECK_NOTHROW(target->load_hmt_tensors(stage1, "s1.safetensors"));
}

TEST_CASE("hmt model: segment_pass is one backbone call over [m, s, H, m]", "[hmt][hmt_model]") {
  for (Family family : {Family::Llama, Family::Gpt2, Family::Opt}) {
    INFO(test::family_label(family));
    auto config = test::tiny_hmt_config(/*segment_length=*/5, /*sensory=*/3, /*recall=*/false, /*context=*/2);
    auto model = test::tiny_hmt(family, config, torch::kDouble);
    auto& backbone = model->backbone();
    const int64_t d = backbone.embed_dim();
    auto ids = test::random_ids(/*rows=*/2, /*length=*/5, /*vocab=*/37, /*seed=*/3);
    auto sensory = test::random_ids(/*rows=*/2, /*length=*/3, /*vocab=*/37, /*seed=*/4);
    auto memory = torch::randn({2, d}, torch::kDouble);

    auto pass = model->segment_pass(memory, {ids, {}, sensory, {}});
    auto z = torch::cat({memory.unsqueeze(1), backbone.embed(sensory), backbone.embed(ids), memory.unsqueeze(1)},
                        /*dim=*/1);
    auto out = backbone.forward(z);
    CHECK(pass.content_logits.sizes() == torch::IntArrayRef{2, 5, 37});
    CHECK(relative_difference(pass.content_logits, out.logits.slice(/*dim=*/1, 4, 9)) < 1e-12);
    CHECK(relative_difference(pass.memory_out, out.last_hidden.select(/*dim=*/1, 9)) < 1e-12);

    // Masked sensory slots are not attended: the same as no sensory tokens.
    auto none = model->segment_pass(memory, {ids, {}, {}, {}});
    auto masked = model->segment_pass(memory, {ids, {}, sensory, torch::zeros({2, 3}, torch::kLong)});
    CHECK(relative_difference(masked.content_logits, none.content_logits) < 1e-10);
    CHECK(relative_difference(masked.memory_out, none.memory_out) < 1e-10);
    CHECK(relative_difference(pass.memory_out, none.memory_out) > 1e-6);
  }
}

TEST_CASE("hmt model: summary_pass reads j = round-half-even(L f) tokens between two prompts", "[hmt][hmt_model]") {
  // L = 5, f = 0.5: 2.5 rounds to 2 (Python's round), not 3.
  auto config = test::tiny_hmt_config(/*segment_length=*/5, /*sensory=*/0, /*recall=*/true, /*context=*/2);
  REQUIRE(config.summary_tokens() == 2);
  auto model = test::tiny_hmt(Family::Gpt2, config, torch::kDouble);
  auto& backbone = model->backbone();
  auto ids = test::random_ids(/*rows=*/2, /*length=*/5, /*vocab=*/37, /*seed=*/5);
  auto prompt = named(*model, "hmt.summary_prompt").unsqueeze(0).expand({2, 1, backbone.embed_dim()});
  auto expected = backbone.forward(torch::cat({prompt, backbone.embed(ids.slice(/*dim=*/1, 0, 2)), prompt}, /*dim=*/1))
                      .last_hidden.select(/*dim=*/1, 3);
  CHECK(relative_difference(model->summary_pass({ids, {}, {}, {}}), expected) < 1e-12);
  auto three =
      backbone.forward(torch::cat({prompt, backbone.embed(ids.slice(/*dim=*/1, 0, 3)), prompt}, /*dim=*/1)).last_hidden;
  CHECK(relative_difference(model->summary_pass({ids, {}, {}, {}}), three.select(/*dim=*/1, 4)) > 1e-6);
}

TEST_CASE("hmt model: recall is a softmax over scaled query-key scores, masked per row", "[hmt][hmt_model]") {
  auto config = test::tiny_hmt_config(/*segment_length=*/4, /*sensory=*/0, /*recall=*/true, /*context=*/3);
  auto model = test::tiny_hmt(Family::Llama, config, torch::kDouble);
  const int64_t d = model->backbone().embed_dim();
  torch::manual_seed(9);
  auto summary = torch::randn({2, d}, torch::kDouble);
  auto cache = torch::randn({2, 3, d}, torch::kDouble);
  auto wq = named(*model, "hmt.recall.wq.weight").detach(), wk = named(*model, "hmt.recall.wk.weight").detach();
  // Row 0 sees entries 0..2, row 1 only entries 1..2.
  auto cache_mask = torch::tensor({1, 1, 1, 0, 1, 1}, torch::kLong).view({2, 3});
  auto out = model->recall(summary, cache, cache_mask);
  for (int64_t b = 0; b < 2; ++b) {
    auto q = wq.matmul(summary[b]);
    std::vector<double> scores;
    double top = -1e300;
    for (int64_t i = 0; i < 3; ++i) {
      scores.push_back(wk.matmul(cache[b][i]).dot(q).item<double>() / std::sqrt(6.0));
      top = std::max(top, scores.back());
    }
    double total = 0;
    std::vector<double> weights(3, 0.0);
    for (int64_t i = 0; i < 3; ++i)
      if (cache_mask[b][i].item<int64_t>()) total += weights[i] = std::exp(scores[i] - top);
    auto expected = torch::zeros({d}, torch::kDouble);
    for (int64_t i = 0; i < 3; ++i) expected += cache[b][i] * (weights[i] / total);
    INFO("row " << b);
    CHECK(relative_difference(out[b], expected) < 1e-12);
    CHECK(model->last_recall_weights()[b][0].item<double>() == Approx(weights[0] / total).margin(1e-15));
  }
  CHECK(model->last_recall_weights().sizes() == torch::IntArrayRef{2, 3});
}

}  // namespace
}  // namespace hmt
