// make_backbone() dispatch, and loading/saving HuggingFace model directories.
#include <filesystem>
#include <map>
#include <set>
#include <unordered_set>

#include "core/error.h"
#include "core/file_manifest.h"
#include "core/shape_text.h"
#include "core/atomic_file.h"
#include "model/backbone.h"
#include "model/backbone_families.h"
#include "model/safetensors.h"

namespace hmt {
namespace fs = std::filesystem;

std::shared_ptr<Backbone> make_backbone(const BackboneConfig& config) {
  switch (config.family) {
    case Family::Llama: return make_llama(config);
    case Family::Gpt2: return make_gpt2(config);
    case Family::Opt: return make_opt(config);
  }
  fail("make_backbone: unknown family {}", static_cast<int>(config.family));
}

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// HF's base_model_prefix: checkpoints of the bare base model (GPT2Model,
// OPTModel, ...) store names without it.
std::string base_prefix(Family family) { return family == Family::Gpt2 ? "transformer." : "model."; }

std::string embedding_name(Family family) {
  switch (family) {
    case Family::Llama: return "model.embed_tokens.weight";
    case Family::Gpt2: return "transformer.wte.weight";
    case Family::Opt: return "model.decoder.embed_tokens.weight";
  }
  return "";
}

// Buffers that older transformers versions saved although they are
// recomputed at construction: the causal mask of GPT-2 attention and the
// RoPE frequencies.
bool is_stale_buffer(const std::string& name) {
  return ends_with(name, ".attn.bias") || ends_with(name, ".attn.masked_bias") ||
         ends_with(name, "rotary_emb.inv_freq");
}

// Up to `limit` problems of one kind, then a count, so that a wrong-family
// checkpoint gives a readable message instead of hundreds of lines.
std::string summarize(const std::vector<std::string>& problems, size_t limit = 8) {
  std::string out;
  for (size_t i = 0; i < problems.size() && i < limit; ++i) out += "\n  " + problems[i];
  if (problems.size() > limit) out += fmt::format("\n  ... and {} more", problems.size() - limit);
  return out;
}

std::string weights_path(const fs::path& dir) {
  if (fs::exists(dir / "model.safetensors")) return (dir / "model.safetensors").string();
  if (fs::exists(dir / "model.safetensors.index.json")) return (dir / "model.safetensors.index.json").string();
  for (const char* legacy : {"pytorch_model.bin", "pytorch_model.bin.index.json"})
    if (fs::exists(dir / legacy))
      fail("{}: has {} but no model.safetensors; pickled PyTorch checkpoints are not read. Convert it once "
           "with:\n  python -c \"from transformers import AutoModelForCausalLM; "
           "AutoModelForCausalLM.from_pretrained('{}').save_pretrained('{}', safe_serialization=True)\"",
           dir.string(), legacy, dir.string(), dir.string());
  fail("{}: no model.safetensors or model.safetensors.index.json", dir.string());
}

const char* torch_dtype_name(torch::Dtype dtype) {
  switch (dtype) {
    case torch::kFloat32: return "float32";
    case torch::kFloat16: return "float16";
    case torch::kBFloat16: return "bfloat16";
    case torch::kFloat64: return "float64";
    default: fail("save_backbone: parameters of dtype {} cannot be saved", std::string(c10::toString(dtype)));
  }
}

}  // namespace

std::shared_ptr<Backbone> load_backbone(const std::string& dir_name, torch::Dtype dtype, bool verify) {
  const fs::path dir(dir_name);
  if (!fs::is_directory(dir)) fail("{}: not a model directory", dir_name);
  // An export says what its files hold; a damaged one is refused by name.
  if (verify) verify_manifest(dir_name);
  const fs::path config_path = dir / "config.json";
  if (!fs::exists(config_path))
    fail("{}: missing; a HuggingFace model directory needs config.json", config_path.string());
  BackboneConfig config = load_hf_config(config_path.string());
  SafetensorsReader reader(weights_path(dir));
  const std::string& source = reader.path();

  std::shared_ptr<Backbone> model = make_backbone(config);
  model->to(dtype);
  std::map<std::string, torch::Tensor> params;
  for (const auto& item : model->named_parameters(/*recurse=*/true)) params.emplace(item.key(), item.value());

  // file name -> parameter name
  std::map<std::string, std::string> source_of;  // parameter -> file name
  std::vector<std::string> unexpected, missing, mismatched;
  const std::string prefix = base_prefix(config.family);
  std::string tied_head;
  for (const std::string& name : reader.names()) {
    std::string target = params.count(name) ? name : params.count(prefix + name) ? prefix + name : "";
    if (target.empty()) {
      if (is_stale_buffer(name)) continue;
      if (name == "lm_head.weight" && config.tie_word_embeddings) {
        tied_head = name;
        continue;
      }
      unexpected.push_back(fmt::format("unexpected tensor \"{}\" {}", name, shape_text(reader.entry(name).shape)));
      continue;
    }
    auto [it, inserted] = source_of.emplace(target, name);
    if (!inserted)
      fail("{}: tensors \"{}\" and \"{}\" both load into parameter \"{}\"", source, it->second, name, target);
  }
  for (const auto& [name, param] : params) {
    auto it = source_of.find(name);
    if (it == source_of.end()) {
      missing.push_back(fmt::format("missing tensor \"{}\" (expected shape {})", name, shape_text(param.sizes())));
      continue;
    }
    const auto& shape = reader.entry(it->second).shape;
    if (param.sizes() != torch::IntArrayRef(shape))
      mismatched.push_back(fmt::format("shape mismatch for \"{}\": model expects {}, file has {}", it->second,
                                       shape_text(param.sizes()), shape_text(shape)));
  }
  if (!unexpected.empty() || !missing.empty() || !mismatched.empty())
    fail("{}: does not match the {} model described by {}:{}{}{}", source, config.model_type, config_path.string(),
         summarize(missing), summarize(unexpected), summarize(mismatched));

  // A tied model has no lm_head parameter; a file whose lm_head differs from
  // the embedding was trained untied and would silently lose its head.
  if (!tied_head.empty()) {
    auto embed = source_of.find(embedding_name(config.family));
    if (embed != source_of.end() && !torch::equal(reader.get(tied_head), reader.get(embed->second)))
      fail("{}: config.json says tie_word_embeddings but \"lm_head.weight\" differs from \"{}\"; set "
           "\"tie_word_embeddings\": false in {}",
           source, embed->second, config_path.string());
  }

  torch::NoGradGuard no_grad;
  for (auto& [name, param] : params) param.copy_(reader.get(source_of.at(name)));
  model->eval();  // as from_pretrained: dropout is off until the trainer turns it on
  return model;
}

void save_backbone(Backbone& backbone, const std::string& dir_name) {
  const fs::path dir(dir_name);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail("{}: cannot create directory: {}", dir_name, ec.message());

  NamedTensors tensors;
  std::unordered_set<const void*> seen;  // a shared tensor is written once, like HF's tied weights
  for (const auto& item : backbone.named_parameters(/*recurse=*/true)) {
    // LoRA adapters are not part of a HF model; merge_lora folds them in
    // first, save_lora_adapters stores them separately (model/lora.h).
    if (item.key().find(".lora_") != std::string::npos) continue;
    if (!seen.insert(item.value().unsafeGetTensorImpl()).second) continue;
    tensors.emplace_back(item.key(), item.value());
  }
  HMT_CHECK(!tensors.empty(), "save_backbone: the backbone has no parameters");

  nlohmann::json config = to_hf_json(backbone.config());
  config["torch_dtype"] = torch_dtype_name(tensors.front().second.scalar_type());
  write_file_atomically((dir / "config.json").string(), config.dump(2) + "\n");
  save_safetensors((dir / "model.safetensors").string(), tensors, {{"format", "pt"}});
}

}  // namespace hmt
