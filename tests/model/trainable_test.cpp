#include <catch2/catch.hpp>

#include <map>

#include "core/config.h"
#include "core/error.h"
#include "model/backbone.h"
#include "model/lora.h"
#include "model/trainable.h"
#include "tests/core/config_test_files.h"
#include "tests/model/naive_reference.h"
#include "tests/test_paths.h"

using Catch::Contains;

namespace {

hmt::BackboneConfig tiny(const std::string& model_type) {
  nlohmann::json j;
  if (model_type == "gpt2") {
    j = {{"model_type", "gpt2"}, {"vocab_size", 64}, {"n_embd", 32},
         {"n_layer", 2},         {"n_head", 4},      {"n_positions", 64}};
  } else {
    j = {{"model_type", "llama"},        {"vocab_size", 64},       {"hidden_size", 32},
         {"intermediate_size", 48},      {"num_hidden_layers", 2}, {"num_attention_heads", 4},
         {"max_position_embeddings", 64}};
  }
  return hmt::parse_hf_config(j, "tiny " + model_type);
}

// The shape HmtModel has: the backbone as "backbone", its own tensors under
// "hmt". The memory is added to every input embedding, so the loss depends
// on it through the whole backbone.
struct Holder : torch::nn::Module {
  explicit Holder(std::shared_ptr<hmt::Backbone> b) : backbone(register_module("backbone", std::move(b))) {
    hmt_part = register_module("hmt", std::make_shared<torch::nn::Module>());
    memory = hmt_part->register_parameter("memory", torch::randn({backbone->embed_dim()}) * 0.1);
  }
  torch::Tensor loss(const torch::Tensor& ids) {
    auto logits = backbone->forward(backbone->embed(ids) + memory).logits;
    return torch::nn::functional::cross_entropy(logits[0].narrow(0, 0, ids.size(1) - 1),
                                                ids[0].narrow(0, 1, ids.size(1) - 1));
  }
  std::shared_ptr<hmt::Backbone> backbone;
  std::shared_ptr<torch::nn::Module> hmt_part;
  torch::Tensor memory;
};

std::shared_ptr<Holder> holder_with_lora(const std::string& model_type, int64_t rank) {
  torch::manual_seed(3);
  auto backbone = hmt::make_backbone(tiny(model_type));
  hmt::test::randomize_parameters(*backbone, /*seed=*/4);
  hmt::LoraConfig lora;
  lora.enabled = true;
  lora.rank = rank;
  lora.dropout = 0.0;
  hmt::attach_lora(*backbone, lora);
  // B random so that A gets a gradient too (B = 0 makes dL/dA = 0).
  torch::NoGradGuard no_grad;
  for (auto& item : backbone->named_parameters())
    if (item.key().find(".lora_B") != std::string::npos) item.value().normal_(/*mean=*/0.0, /*std=*/0.3);
  return std::make_shared<Holder>(backbone);
}

std::map<std::string, torch::Tensor> snapshot(torch::nn::Module& m) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& item : m.named_parameters()) out.emplace(item.key(), item.value().detach().clone());
  return out;
}

// Names whose tensor differs (in any bit) from the snapshot.
std::set<std::string> changed_since(torch::nn::Module& m, const std::map<std::string, torch::Tensor>& before) {
  std::set<std::string> changed;
  for (const auto& item : m.named_parameters())
    if (!torch::equal(item.value(), before.at(item.key()))) changed.insert(item.key());
  return changed;
}

std::set<std::string> names_where(torch::nn::Module& m, const std::function<bool(const std::string&)>& keep) {
  std::set<std::string> out;
  for (const auto& item : m.named_parameters())
    if (keep(item.key())) out.insert(item.key());
  return out;
}

bool is_lora(const std::string& n) { return n.find(".lora_") != std::string::npos; }
bool is_hmt(const std::string& n) { return n.rfind("hmt.", 0) == 0; }

const std::vector<int64_t> kIds = {3, 17, 42, 5, 9, 61, 0, 28, 33, 12};

}  // namespace

TEST_CASE("trainable: one optimizer step changes exactly the parameters the mode trains", "[lora][trainable]") {
  for (const char* type : {"llama", "gpt2"}) {
    for (auto mode : {hmt::TrainableMode::Full, hmt::TrainableMode::Lora, hmt::TrainableMode::Frozen}) {
      INFO(type << " mode " << static_cast<int>(mode));
      auto model = holder_with_lora(type, /*rank=*/4);
      hmt::apply_trainable(*model, mode);
      const auto before = snapshot(*model);
      // Adam over every tensor: a frozen one would move if it got any
      // gradient, even a tiny one.
      torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(/*lr=*/1e-2));
      optimizer.zero_grad();
      model->loss(hmt::test::id_tensor(kIds)).backward();
      optimizer.step();

      std::set<std::string> expected;
      if (mode == hmt::TrainableMode::Full) expected = names_where(*model, [](const std::string&) { return true; });
      if (mode == hmt::TrainableMode::Lora)
        expected = names_where(*model, [](const std::string& n) { return is_lora(n) || is_hmt(n); });
      if (mode == hmt::TrainableMode::Frozen) expected = {"hmt.memory"};
      CHECK(changed_since(*model, before) == expected);
      for (const auto& item : model->named_parameters()) {
        INFO(item.key());
        CHECK(item.value().requires_grad() == (expected.count(item.key()) > 0));
        if (!expected.count(item.key())) CHECK_FALSE(item.value().grad().defined());
      }
    }
  }
}

TEST_CASE("trainable: apply_trainable returns the trainable scalar count, tied tensors once", "[lora][trainable]") {
  const int64_t rank = 4, d = 32, memory = d;
  // llama: q_proj and v_proj are 32 -> 32 here; gpt2: c_attn is 32 -> 96.
  const int64_t llama_lora = 2 /*layers*/ * 2 /*modules*/ * (rank * d + d * rank);
  const int64_t gpt2_lora = 2 /*layers*/ * (rank * d + 3 * d * rank);

  auto llama = holder_with_lora("llama", rank);
  CHECK(hmt::apply_trainable(*llama, hmt::TrainableMode::Lora) == llama_lora + memory);
  CHECK(hmt::apply_trainable(*llama, hmt::TrainableMode::Frozen) == memory);
  CHECK(hmt::apply_trainable(*llama, hmt::TrainableMode::Full) ==
        hmt::parameter_count(tiny("llama")) + llama_lora + memory);

  // gpt2's head is wte itself: counted once.
  auto gpt2 = holder_with_lora("gpt2", rank);
  CHECK(hmt::apply_trainable(*gpt2, hmt::TrainableMode::Lora) == gpt2_lora + memory);
  CHECK(hmt::apply_trainable(*gpt2, hmt::TrainableMode::Full) ==
        hmt::parameter_count(tiny("gpt2")) + gpt2_lora + memory);

  // A bare backbone has no hmt.*: frozen trains nothing, lora only adapters.
  auto& bare = *gpt2->backbone;
  CHECK(hmt::apply_trainable(bare, hmt::TrainableMode::Frozen) == 0);
  for (const auto& p : bare.parameters()) CHECK_FALSE(p.requires_grad());
  CHECK(hmt::apply_trainable(bare, hmt::TrainableMode::Lora) == gpt2_lora);
  CHECK(names_where(bare, [&](const std::string& n) { return bare.named_parameters()[n].requires_grad(); }) ==
        names_where(bare, is_lora));
}

TEST_CASE("trainable: lora without adapters is an error", "[lora][trainable]") {
  torch::manual_seed(3);
  auto backbone = hmt::make_backbone(tiny("llama"));
  REQUIRE_THROWS_WITH(hmt::apply_trainable(*backbone, hmt::TrainableMode::Lora), Contains("no LoRA adapters"));
}

TEST_CASE("trainable: config section lora and model.trainable parse, default and validate",
          "[lora][trainable][config]") {
  auto dir = hmt::test::temp_dir("trainable_config");
  const std::string head =
      "model:\n  type: llama\n  vocab_size: 64\n  hidden_size: 32\n  num_layers: 2\n  num_heads: 4\n";
  const std::string hmt_section = "hmt:\n  segment_length: 16\n";

  auto defaults = hmt::load_experiment(hmt::test::write_config(dir, "defaults.yaml", head + hmt_section), {});
  CHECK(defaults.model.trainable == hmt::TrainableMode::Full);
  CHECK_FALSE(defaults.lora.enabled);
  CHECK(defaults.lora.rank == 8);
  CHECK(defaults.lora.alpha == 32.0);
  CHECK(defaults.lora.dropout == 0.1);
  CHECK(defaults.lora.target_modules.empty());

  auto set = hmt::load_experiment(
      hmt::test::write_config(dir, "lora.yaml",
                              head + "  trainable: lora\n" + hmt_section +
                                  "lora:\n  enabled: true\n  rank: 4\n  alpha: 16\n  dropout: 0.05\n"
                                  "  target_modules: [q_proj, k_proj]\n"),
      {});
  CHECK(set.model.trainable == hmt::TrainableMode::Lora);
  CHECK(set.lora.rank == 4);
  CHECK(set.lora.alpha == 16.0);
  CHECK(set.lora.dropout == 0.05);
  CHECK(set.lora.target_modules == std::vector<std::string>{"q_proj", "k_proj"});
  CHECK(hmt::load_experiment(hmt::test::write_config(dir, "again.yaml", hmt::to_yaml(set)), {}) == set);

  const std::string needs_enabled = hmt::test::write_config(dir, "needs.yaml",
                                                            head + "  trainable: lora\n" + hmt_section);
  REQUIRE_THROWS_WITH(hmt::load_experiment(needs_enabled, {}), Contains("lora.enabled is false"));
  CHECK(hmt::load_experiment(needs_enabled, {"lora.enabled=true"}).lora.enabled);
  CHECK(hmt::load_experiment(needs_enabled, {"model.trainable=frozen"}).model.trainable == hmt::TrainableMode::Frozen);

  const std::string plain = hmt::test::write_config(dir, "plain.yaml", head + hmt_section);
  // Unknown names fail at the parse, listing the names in order.
  REQUIRE_THROWS_WITH(hmt::load_experiment(plain, {"model.trainable=partial"}),
                      Contains("model.trainable: 'partial' is not one of full, lora, frozen"));
  // The names go back out as they came in.
  CHECK_THAT(hmt::to_yaml(set), Contains("trainable: \"lora\""));
  REQUIRE_THROWS_WITH(hmt::load_experiment(plain, {"lora.rank=0"}), Contains("lora.rank"));
  REQUIRE_THROWS_WITH(hmt::load_experiment(plain, {"lora.alpha=0"}), Contains("lora.alpha"));
  REQUIRE_THROWS_WITH(hmt::load_experiment(plain, {"lora.dropout=1"}), Contains("lora.dropout"));
}
