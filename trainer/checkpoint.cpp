#include "trainer/checkpoint.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "core/atomic_file.h"
#include "core/config.h"
#include "core/error.h"
#include "core/file_manifest.h"
#include "core/json_file.h"
#include "core/shape_text.h"
#include "core/staging_dir.h"
#include "model/backbone.h"
#include "model/hmt_model.h"
#include "model/lora.h"
#include "model/safetensors.h"
#include "model/rng_state.h"
#include "trainer/stage.h"

namespace hmt {
namespace fs = std::filesystem;

namespace {

constexpr const char* kStateFile = "trainer_state.json";
constexpr const char* kHmtFile = "hmt.safetensors";
constexpr const char* kLoraFile = "lora.safetensors";
constexpr const char* kOptimizerFile = "optimizer.safetensors";
constexpr const char* kStepTag = "-step";

// (stage name, step) of a checkpoint directory name; false when it is none.
bool parse_name(const std::string& name, std::string& stage, int64_t& step) {
  auto at = name.rfind(kStepTag);
  if (at == std::string::npos || at == 0) return false;
  const std::string digits = name.substr(at + std::strlen(kStepTag));
  if (digits.empty() || !std::all_of(digits.begin(), digits.end(), ::isdigit)) return false;
  stage = name.substr(0, at);
  step = std::stoll(digits);
  return true;
}

template <class T>
T required(const nlohmann::json& json, const char* key, const std::string& source) {
  HMT_CHECK(json.contains(key), "{}: missing key \"{}\"", source, key);
  try {
    return json.at(key).get<T>();
  } catch (const nlohmann::json::exception& e) {
    fail("{}: key \"{}\": {}", source, key, e.what());
  }
}

// Copies every non-LoRA parameter of `target` from the same name in `source`.
void copy_backbone(Backbone& source, Backbone& target, const std::string& origin) {
  auto from = source.named_parameters(/*recurse=*/true);
  std::vector<std::string> problems;
  torch::NoGradGuard no_grad;
  for (auto& item : target.named_parameters(/*recurse=*/true)) {
    if (item.key().find(".lora_") != std::string::npos) continue;
    const auto* found = from.find(item.key());
    if (!found) {
      problems.push_back(fmt::format("missing \"{}\"", item.key()));
      continue;
    }
    if (found->sizes() != item.value().sizes()) {
      problems.push_back(fmt::format("\"{}\": the model has {}, the file {}", item.key(),
                                     shape_text(item.value().sizes()), shape_text(found->sizes())));
      continue;
    }
    item.value().copy_(*found);
  }
  if (!problems.empty())
    fail("{}: does not fit this experiment's backbone: {}{}", origin,
         fmt::join(problems.begin(), problems.begin() + std::min<size_t>(problems.size(), 6), "; "),
         problems.size() > 6 ? fmt::format("; ... and {} more", problems.size() - 6) : "");
}

NamedTensors all_hmt_tensors(HmtModel& model) {
  NamedTensors out;
  for (const auto& item : model.named_parameters(/*recurse=*/true))
    if (is_hmt_parameter(item.key())) out.emplace_back(item.key(), item.value().detach());
  return out;
}

}  // namespace

nlohmann::ordered_json TrainerState::to_json() const {
  return {{"stage", stage},
          {"stage_index", stage_index},
          {"step", step},
          {"stage_complete", stage_complete},
          {"global_step", global_step},
          {"loader", loader},
          {"rng_cpu", rng_cpu},
          {"nonfinite_in_row", nonfinite_in_row},
          {"nonfinite_total", nonfinite_total},
          {"metrics_bytes", metrics_bytes},
          {"world", world},
          {"config_hash", config_hash},
          {"stop_reason", stop_reason},
          {"init_stage", init_stage}};
}

TrainerState TrainerState::from_json(const nlohmann::json& json, const std::string& source) {
  HMT_CHECK(json.is_object(), "{}: expected a JSON object, got {}", source, json.type_name());
  TrainerState s;
  s.stage = required<std::string>(json, "stage", source);
  s.stage_index = required<int64_t>(json, "stage_index", source);
  s.step = required<int64_t>(json, "step", source);
  s.stage_complete = required<bool>(json, "stage_complete", source);
  s.global_step = required<int64_t>(json, "global_step", source);
  HMT_CHECK(json.contains("loader") && json["loader"].is_object(), "{}: key \"loader\" must be an object", source);
  s.loader = json["loader"];
  s.rng_cpu = required<std::string>(json, "rng_cpu", source);
  s.nonfinite_in_row = required<int64_t>(json, "nonfinite_in_row", source);
  s.nonfinite_total = required<int64_t>(json, "nonfinite_total", source);
  s.metrics_bytes = required<int64_t>(json, "metrics_bytes", source);
  s.world = required<int64_t>(json, "world", source);
  s.config_hash = required<std::string>(json, "config_hash", source);
  s.stop_reason = required<std::string>(json, "stop_reason", source);
  // Absent in checkpoints written before the key existed.
  if (json.contains("init_stage")) s.init_stage = required<std::string>(json, "init_stage", source);
  return s;
}

ExperimentConfig computed_part(const ExperimentConfig& config) {
  ExperimentConfig fixed = config;
  const RuntimeConfig defaults;
  fixed.runtime.run_dir = defaults.run_dir;
  fixed.runtime.threads = defaults.threads;
  fixed.runtime.log_level = defaults.log_level;
  // Collective settings (backend, buckets, timeout) do not change what is computed.
  fixed.dist = DistConfig{};
  return fixed;
}

std::string resume_hash(const ExperimentConfig& config) { return config_hash(computed_part(config)); }

std::string checkpoint_name(const std::string& stage, int64_t step) {
  return fmt::format("{}{}{:06d}", stage, kStepTag, step);
}

std::string cpu_rng_hex() {
  auto state = capture_rng_state(torch::kCPU).cpu.contiguous();
  const auto* bytes = state.data_ptr<uint8_t>();
  std::string hex;
  hex.reserve(static_cast<size_t>(state.numel()) * 2);
  for (int64_t i = 0; i < state.numel(); ++i) hex += fmt::format("{:02x}", bytes[i]);
  return hex;
}

void restore_cpu_rng(const std::string& hex, const std::string& source) {
  HMT_CHECK(hex.size() % 2 == 0, "{}: rng_cpu: odd number of hex digits", source);
  auto state = torch::empty({static_cast<int64_t>(hex.size() / 2)}, torch::kUInt8);
  auto* bytes = state.data_ptr<uint8_t>();
  for (size_t i = 0; i < hex.size(); i += 2) {
    char* end = nullptr;
    const std::string pair = hex.substr(i, 2);
    const long value = std::strtol(pair.c_str(), &end, 16);
    HMT_CHECK(end && *end == '\0', "{}: rng_cpu: '{}' is not hex", source, pair);
    bytes[i / 2] = static_cast<uint8_t>(value);
  }
  try {
    RngState rng;
    rng.cpu = state;
    restore_rng_state(rng);
  } catch (const c10::Error& e) {
    fail("{}: rng_cpu is not a CPU generator state: {}", source, e.what_without_backtrace());
  }
}

std::string save_checkpoint(const std::string& run_dir, HmtModel& model, const Optimizer* optimizer,
                            const ExperimentConfig& config, TrainerState state, bool with_hmt) {
  const fs::path parent = fs::path(run_dir) / "checkpoints";
  std::error_code ec;
  fs::create_directories(parent, ec);
  HMT_CHECK(!ec, "{}: cannot create: {}", parent.string(), ec.message());
  const fs::path target = parent / checkpoint_name(state.stage, state.step);
  // Everything is written into the staging directory first: a failed write
  // (a full disk) removes it on the way out, and the checkpoints already
  // published stay as they were (pruning runs only after a save succeeded).
  try {
    StagingDir staging((parent / ".staging-XXXXXX").string());
    const fs::path& dir = staging.path();
    save_backbone(model.backbone(), dir.string());
    if (!lora_module_names(model.backbone()).empty()) save_lora_adapters(model.backbone(), (dir / kLoraFile).string());
    if (with_hmt) save_safetensors((dir / kHmtFile).string(), all_hmt_tensors(model), {{"format", "pt"}});
    if (optimizer) save_safetensors((dir / kOptimizerFile).string(), optimizer->state(), {{"format", "pt"}});
    write_file_atomically((dir / "config.yaml").string(), to_yaml(config));
    nlohmann::ordered_json json = state.to_json();
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    // Size and content hash of every file: a flipped bit in the weights (or a
    // damaged config.json) makes the checkpoint invalid, so resume falls back
    // to the newest one that verifies instead of training on garbage.
    json["files"] = file_entries(dir.string(), names);
    write_file_atomically((dir / kStateFile).string(), json.dump(2) + "\n");
    staging.publish(target);
  } catch (const std::exception& e) {
    fail("{}: checkpoint not written: {}; its partial files were removed, the earlier checkpoints are intact",
         target.string(), e.what());
  }
  return target.string();
}

std::vector<std::string> list_checkpoints(const std::string& run_dir) {
  const fs::path parent = fs::path(run_dir) / "checkpoints";
  if (!fs::is_directory(parent)) return {};
  std::vector<std::pair<std::pair<int64_t, int64_t>, std::string>> found;
  std::vector<StageKind> stages;
  bool stages_read = false;
  for (const auto& entry : fs::directory_iterator(parent)) {
    std::string stage;
    int64_t step = 0;
    const std::string name = entry.path().filename().string();
    if (!entry.is_directory() || name.front() == '.' || !parse_name(name, stage, step)) continue;
    if (!stages_read) {
      const fs::path config_path = fs::path(run_dir) / "config.yaml";
      HMT_CHECK(fs::exists(config_path), "{}: missing; it says in which order the stages of {} ran",
                config_path.string(), parent.string());
      stages = load_experiment(config_path.string(), {}).train.stages;
      stages_read = true;
    }
    const std::optional<StageKind> kind = config::enum_from_name<StageKind>(stage);
    auto at = kind ? std::find(stages.begin(), stages.end(), *kind) : stages.end();
    if (at == stages.end()) continue;
    found.push_back({{at - stages.begin(), step}, entry.path().string()});
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (const auto& item : found) out.push_back(item.second);
  return out;
}

void prune_checkpoints(const std::string& run_dir, int64_t keep) {
  auto all = list_checkpoints(run_dir);
  for (size_t i = 0; i + static_cast<size_t>(keep) < all.size(); ++i) {
    std::error_code ec;
    fs::remove_all(all[i], ec);
  }
}

TrainerState read_trainer_state(const std::string& dir) {
  const fs::path path = fs::path(dir) / kStateFile;
  HMT_CHECK(fs::exists(path), "{}: missing; {} is not a checkpoint directory", path.string(), dir);
  return TrainerState::from_json(read_json_file(path.string()), path.string());
}

std::string checkpoint_problem(const std::string& dir) {
  try {
    const fs::path path = fs::path(dir) / kStateFile;
    HMT_CHECK(fs::exists(path), "{}: missing", path.string());
    const nlohmann::json json = read_json_file(path.string());
    TrainerState::from_json(json, path.string());
    HMT_CHECK(json.contains("files"), "{}: key \"files\" is missing", path.string());
    verify_file_entries(dir, json["files"], path.string());
    for (const auto& [name, entry] : json["files"].items())
      if (fs::path(name).extension() == ".safetensors") SafetensorsFile check((fs::path(dir) / name).string());
    for (const char* needed : {"config.json", "model.safetensors", "config.yaml"})
      HMT_CHECK(json["files"].contains(needed), "{}: does not list {}", path.string(), needed);
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    return fmt::format("{}: {}", dir, e.what());
  }
  return "";
}

std::string newest_valid_checkpoint(const std::string& run_dir) {
  auto all = list_checkpoints(run_dir);
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    const std::string problem = checkpoint_problem(*it);
    if (problem.empty()) return *it;
    std::fprintf(stderr, "warning: skipping corrupt checkpoint %s: %s\n", it->c_str(), problem.c_str());
  }
  return "";
}

std::vector<std::string> load_weights(const std::string& dir, HmtModel& model) {
  const fs::path root(dir);
  std::vector<std::string> loaded;
  auto source = load_backbone(dir);
  copy_backbone(*source, model.backbone(), (root / "model.safetensors").string());
  loaded.push_back("backbone");
  const bool has_adapters = !lora_module_names(model.backbone()).empty();
  if (fs::exists(root / kLoraFile)) {
    HMT_CHECK(has_adapters, "{}: has LoRA adapters, but this experiment has lora.enabled: false",
              (root / kLoraFile).string());
    load_lora_adapters(model.backbone(), (root / kLoraFile).string());
    loaded.push_back("lora");
  }
  if (fs::exists(root / kHmtFile)) {
    const std::string path = (root / kHmtFile).string();
    SafetensorsFile file(path);
    std::map<std::string, torch::Tensor> params;
    for (const auto& [name, tensor] : all_hmt_tensors(model)) params.emplace(name, tensor);
    torch::NoGradGuard no_grad;
    for (const std::string& name : file.names()) {
      auto it = params.find(name);
      HMT_CHECK(it != params.end(), "{}: unexpected tensor \"{}\"", path, name);
      HMT_CHECK(it->second.sizes() == torch::IntArrayRef(file.entry(name).shape),
                "{}: shape mismatch for \"{}\": model expects {}, file has {}", path, name,
                shape_text(it->second.sizes()), shape_text(file.entry(name).shape));
      it->second.copy_(file.get(name, it->second.scalar_type()));
    }
    loaded.push_back("hmt");
  }
  return loaded;
}

void load_optimizer_state(const std::string& dir, Optimizer& optimizer) {
  const fs::path path = fs::path(dir) / kOptimizerFile;
  HMT_CHECK(fs::exists(path), "{}: missing; the checkpoint has no optimizer state to resume from", path.string());
  optimizer.load_state(SafetensorsFile(path.string()));
}

LoadedRun load_run(const std::string& run_dir_or_checkpoint) {
  const fs::path given(run_dir_or_checkpoint);
  HMT_CHECK(fs::is_directory(given), "{}: not a run directory or checkpoint directory", run_dir_or_checkpoint);
  LoadedRun run;
  if (fs::exists(given / kStateFile)) {
    const std::string problem = checkpoint_problem(given.string());
    HMT_CHECK(problem.empty(), "{}: not a valid checkpoint: {}", run_dir_or_checkpoint, problem);
    run.checkpoint_dir = given.string();
  } else {
    run.checkpoint_dir = newest_valid_checkpoint(given.string());
    HMT_CHECK(!run.checkpoint_dir.empty(), "{}: no valid checkpoint under {}", run_dir_or_checkpoint,
              (given / "checkpoints").string());
  }
  const fs::path dir(run.checkpoint_dir);
  run.config = load_experiment((dir / "config.yaml").string(), {});
  const TrainerState state = read_trainer_state(run.checkpoint_dir);
  run.stage = state.stage_index;
  // The backbone comes from the checkpoint itself, so a run whose
  // model.pretrained directory has moved still loads.
  torch::manual_seed(run.config.runtime.seed);
  auto model = std::make_shared<HmtModel>(load_backbone(dir.string()), run.config.hmt);
  if (run.config.lora.enabled) attach_lora(model->backbone(), run.config.lora);
  load_weights(dir.string(), *model);
  model->set_recall_enabled(recall_enabled(parse_stage_kind(state.stage)));
  model->eval();
  run.model = model;
  return run;
}

}  // namespace hmt
