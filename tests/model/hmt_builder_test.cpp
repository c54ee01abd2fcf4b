// build_hmt_model: the same config gives the same model, a pretrained
// directory loads as saved, LoRA and model.trainable are applied.
#include <catch2/catch.hpp>

#include "core/error.h"
#include "model/backbone.h"
#include "model/hmt_builder.h"
#include "tests/test_paths.h"

namespace hmt {
namespace {

ExperimentConfig tiny_experiment() {
  ExperimentConfig c;
  c.model.type = std::string("llama");
  c.model.vocab_size = 50;
  c.model.hidden_size = 16;
  c.model.num_layers = 2;
  c.model.num_heads = 2;
  c.hmt.segment_length = 8;
  c.hmt.num_sensory = 2;
  c.hmt.recall.hidden_dim = 8;
  c.runtime.seed = 11;
  return c;
}

bool same_parameters(torch::nn::Module& a, torch::nn::Module& b) {
  auto pa = a.named_parameters(), pb = b.named_parameters();
  if (pa.size() != pb.size()) return false;
  for (const auto& item : pa) {
    const auto* other = pb.find(item.key());
    if (!other || !torch::equal(item.value(), *other)) return false;
  }
  return true;
}

TEST_CASE("hmt builder: one config, one model, another seed, another model", "[model][builder]") {
  auto config = tiny_experiment();
  auto a = build_hmt_model(config);
  auto b = build_hmt_model(config);
  CHECK(a->is_training());
  CHECK(same_parameters(*a, *b));
  config.runtime.seed = 12;
  auto c = build_hmt_model(config);
  CHECK_FALSE(same_parameters(*a, *c));
}

TEST_CASE("hmt builder: a pretrained directory loads the saved backbone", "[model][builder]") {
  auto config = tiny_experiment();
  auto scratch = build_hmt_model(config);
  auto dir = test::temp_dir("builder_pretrained");
  save_backbone(scratch->backbone(), dir.string());
  config.model = ModelConfig{};
  config.model.pretrained = dir.string();
  auto loaded = build_hmt_model(config);
  CHECK(same_parameters(loaded->backbone(), scratch->backbone()));
  // The hmt.* tensors are drawn from the same seed after the (loaded, not
  // drawn) backbone, so only the backbone is compared.
}

TEST_CASE("hmt builder: lora and model.trainable decide what trains", "[model][builder]") {
  auto config = tiny_experiment();
  config.lora.enabled = true;
  config.lora.rank = 2;
  config.model.trainable = hmt::TrainableMode::Lora;
  auto model = build_hmt_model(config);
  int64_t lora_tensors = 0;
  for (const auto& item : model->named_parameters()) {
    const bool lora = item.key().find(".lora_") != std::string::npos;
    const bool hmt_tensor = item.key().rfind("hmt.", 0) == 0;
    INFO(item.key());
    CHECK(item.value().requires_grad() == (lora || hmt_tensor));
    lora_tensors += lora;
  }
  CHECK(lora_tensors == 2 * 2 * 2);  // q_proj, v_proj x A, B x 2 layers

  config.lora.enabled = false;
  config.model.trainable = hmt::TrainableMode::Frozen;
  for (const auto& item : build_hmt_model(config)->named_parameters()) {
    INFO(item.key());
    CHECK(item.value().requires_grad() == (item.key().rfind("hmt.", 0) == 0));
  }
}

TEST_CASE("hmt builder: a missing pretrained directory names it", "[model][builder]") {
  auto config = tiny_experiment();
  config.model = ModelConfig{};
  config.model.pretrained = "/nonexistent/model_dir";
  REQUIRE_THROWS_WITH(build_hmt_model(config), Catch::Contains("/nonexistent/model_dir"));
}

}  // namespace
}  // namespace hmt
