// Attaching, merging, saving and loading the LoRA adapters of a backbone.
#include "model/lora.h"

#include <map>
#include <set>

#include <fmt/ranges.h>

#include "core/error.h"
#include "core/shape_text.h"
#include "model/layers.h"
#include "model/safetensors.h"

namespace hmt {
namespace {

// A Linear or Conv1D of the backbone, seen through what LoRA needs.
struct LinearModule {
  std::string name;
  torch::nn::Module* module = nullptr;
  layers::LoraAdapter* adapter = nullptr;
  torch::Tensor weight;
  int64_t in = 0, out = 0;
  bool fan_in_fan_out = false;  // Conv1D stores W as [in, out]
};

std::vector<LinearModule> linear_modules(Backbone& backbone) {
  std::vector<LinearModule> found;
  for (const auto& item : backbone.named_modules(/*name_prefix=*/"", /*include_self=*/false)) {
    if (auto* linear = dynamic_cast<layers::Linear*>(item.value().get()))
      found.push_back({item.key(), linear, &linear->lora, linear->weight, linear->in_features(), linear->out_features(),
                       /*fan_in_fan_out=*/false});
    else if (auto* conv = dynamic_cast<layers::Conv1D*>(item.value().get()))
      found.push_back({item.key(), conv, &conv->lora, conv->weight, conv->in_features(), conv->out_features(),
                       /*fan_in_fan_out=*/true});
  }
  return found;
}

bool matches(const std::string& name, const std::string& target) {
  if (name == target) return true;
  const std::string suffix = "." + target;
  return name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<LinearModule> adapted_modules(Backbone& backbone) {
  std::vector<LinearModule> adapted;
  for (auto& m : linear_modules(backbone))
    if (m.adapter->attached()) adapted.push_back(m);
  return adapted;
}

}  // namespace

std::vector<std::string> default_lora_targets(Family family) {
  switch (family) {
    case Family::Llama: return {"q_proj", "v_proj"};
    case Family::Gpt2: return {"c_attn"};
    case Family::Opt: return {"q_proj", "v_proj"};
  }
  fail("lora: unknown family {}", static_cast<int>(family));
}

std::vector<std::string> linear_module_names(Backbone& backbone) {
  std::vector<std::string> names;
  for (const auto& m : linear_modules(backbone)) names.push_back(m.name);
  return names;
}

std::vector<std::string> lora_module_names(Backbone& backbone) {
  std::vector<std::string> names;
  for (const auto& m : adapted_modules(backbone)) names.push_back(m.name);
  return names;
}

std::vector<std::string> attach_lora(Backbone& backbone, const LoraConfig& config) {
  const auto targets = config.target_modules.empty() ? default_lora_targets(backbone.config().family)
                                                     : config.target_modules;
  auto modules = linear_modules(backbone);
  // Check every target before attaching anything, so an error leaves the
  // backbone as it was.
  for (const auto& target : targets) {
    bool hit = false;
    for (const auto& m : modules) hit = hit || matches(m.name, target);
    if (!hit) {
      // The distinct leaf names are what a user writes in target_modules.
      std::set<std::string> leaves;
      for (const auto& m : modules) leaves.insert(m.name.substr(m.name.rfind('.') + 1));
      fail("lora.target_modules: \"{}\" matches no linear module of this {} model; its linear modules are "
           "named: {}",
           target, backbone.config().model_type, fmt::join(leaves, ", "));
    }
  }
  std::vector<LinearModule*> chosen;
  for (auto& m : modules) {
    bool hit = false;
    for (const auto& target : targets) hit = hit || matches(m.name, target);
    if (!hit) continue;
    HMT_CHECK(!m.adapter->attached(), "lora: module \"{}\" already has an adapter", m.name);
    chosen.push_back(&m);
  }
  std::vector<std::string> names;
  for (auto* m : chosen) {
    m->adapter->attach(*m->module, m->in, m->out, config.rank, config.alpha, config.dropout, m->weight);
    names.push_back(m->name);
  }
  return names;
}

void merge_lora(Backbone& backbone) {
  torch::NoGradGuard no_grad;
  for (auto& m : adapted_modules(backbone)) {
    auto delta = m.adapter->delta_weight();  // [out, in]
    m.weight.add_(m.fan_in_fan_out ? delta.t() : delta);
    m.adapter->detach(*m.module);
  }
}

std::shared_ptr<Backbone> merged_copy(Backbone& backbone) {
  torch::NoGradGuard no_grad;
  auto copy = make_backbone(backbone.config());
  copy->to(backbone.parameters().front().scalar_type());
  auto source = backbone.named_parameters(/*recurse=*/true);
  for (auto& item : copy->named_parameters(/*recurse=*/true)) {
    const torch::Tensor* from = source.find(item.key());
    HMT_CHECK(from != nullptr, "merged_copy: parameter {} is missing from the source backbone", item.key());
    item.value().copy_(*from);
  }
  auto copy_parameters = copy->named_parameters(/*recurse=*/true);
  for (auto& m : adapted_modules(backbone)) {
    auto delta = m.adapter->delta_weight();  // [out, in]
    copy_parameters[m.name + ".weight"].add_(m.fan_in_fan_out ? delta.t() : delta);
  }
  copy->train(backbone.is_training());
  return copy;
}

void save_lora_adapters(Backbone& backbone, const std::string& path) {
  auto adapted = adapted_modules(backbone);
  HMT_CHECK(!adapted.empty(), "save_lora_adapters: {}: the backbone has no LoRA adapters", path);
  NamedTensors tensors;
  for (const auto& item : backbone.named_parameters(/*recurse=*/true))
    if (item.key().find(".lora_") != std::string::npos) tensors.emplace_back(item.key(), item.value().detach());
  const auto& first = *adapted.front().adapter;
  save_safetensors(path, tensors,
                   {{"format", "pt"},
                    {"lora_rank", std::to_string(first.lora_A->weight.size(0))},
                    {"lora_scaling", fmt::format("{}", first.scaling)}});
}

void load_lora_adapters(Backbone& backbone, const std::string& path) {
  std::map<std::string, torch::Tensor> params;
  for (const auto& item : backbone.named_parameters(/*recurse=*/true))
    if (item.key().find(".lora_") != std::string::npos) params.emplace(item.key(), item.value());
  HMT_CHECK(!params.empty(), "load_lora_adapters: {}: the backbone has no LoRA adapters; call attach_lora first", path);
  SafetensorsFile file(path);
  std::vector<std::string> problems;
  for (const auto& name : file.names())
    if (!params.count(name)) problems.push_back(fmt::format("unexpected tensor \"{}\"", name));
  for (const auto& [name, param] : params) {
    if (!file.contains(name)) {
      problems.push_back(fmt::format("missing tensor \"{}\"", name));
      continue;
    }
    const auto& shape = file.entry(name).shape;
    if (param.sizes() != torch::IntArrayRef(shape))
      problems.push_back(fmt::format("shape mismatch for \"{}\": model {}, file {}", name, shape_text(param.sizes()),
                                     shape_text(shape)));
  }
  // The scaling is not a tensor; a file trained with another alpha would
  // silently compute a different update.
  const auto& meta = file.metadata();
  const double scaling = adapted_modules(backbone).front().adapter->scaling;
  auto it = meta.find("lora_scaling");
  if (it == meta.end() || fmt::format("{}", scaling) != it->second)
    problems.push_back(fmt::format("lora scaling (alpha / r) differs: model {}, file {}", scaling,
                                   it == meta.end() ? "none" : it->second));
  if (!problems.empty())
    fail("{}: does not match the LoRA adapters of the model:\n  {}", path, fmt::join(problems, "\n  "));
  torch::NoGradGuard no_grad;
  for (auto& [name, param] : params) param.copy_(file.get(name));
}

}  // namespace hmt
