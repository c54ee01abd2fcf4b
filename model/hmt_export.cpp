#include "model/hmt_export.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include "core/atomic_file.h"
#include "core/config_schema.h"
#include "core/error.h"
#include "core/file_manifest.h"
#include "core/json_file.h"
#include "core/staging_dir.h"
#include "core/shape_text.h"
#include "model/lora.h"
#include "model/safetensors.h"

namespace hmt {
namespace fs = std::filesystem;

namespace {

constexpr const char* kHmtConfigFile = "hmt_config.json";
constexpr const char* kHmtTensorsFile = "hmt.safetensors";

void rename_or_fail(const fs::path& from, const fs::path& to) {
  if (std::rename(from.c_str(), to.c_str()) != 0)
    fail("{}: cannot rename {} onto it: {}", to.string(), from.string(), std::strerror(errno));
}

}  // namespace

nlohmann::ordered_json hmt_config_json(const HmtConfig& config) {
  return {{"segment_length", config.segment_length},
          {"num_sensory", config.num_sensory},
          {"sum_fraction", config.sum_fraction},
          {"recall",
           {{"enabled", config.recall.enabled},
            {"context", config.recall.context},
            {"hidden_dim", config.recall.hidden_dim}}}};
}

HmtConfig parse_hmt_config_file(const std::string& path) {
  const nlohmann::json json = read_json_file(path);
  HMT_CHECK(json.is_object(), "{}: expected a JSON object, got {}", path, json.type_name());
  // The schema would fill absent keys with training defaults; an export must
  // say how it was trained, so every key is required here.
  for (const char* key : {"segment_length", "num_sensory", "sum_fraction", "recall"})
    HMT_CHECK(json.contains(key), "{}: missing key \"{}\"", path, key);
  HMT_CHECK(json["recall"].is_object(), "{}: key \"recall\" must be an object", path);
  for (const char* key : {"enabled", "context", "hidden_dim"})
    HMT_CHECK(json["recall"].contains(key), "{}: missing key \"recall.{}\"", path, key);
  // Types, ranges and unknown keys: the same checks as hmt: in an experiment
  // file (JSON is YAML), with file:line in each message.
  ConfigTree tree;
  tree.root = load_yaml_file(path);
  tree.source = path;
  return config::parse_struct<HmtConfig>(tree);
}

bool is_hmt_export(const std::string& dir) {
  // Either file marks one: an export with one of them gone is a damaged
  // export (load_hmt_export names the missing file), not a plain backbone.
  return fs::exists(fs::path(dir) / kHmtTensorsFile) || fs::exists(fs::path(dir) / kHmtConfigFile);
}

namespace {

// with_hmt false: a plain HF model directory (backbone, LoRA merged, tokenizer).
void save_export(HmtModel& model, const std::string& dir_name, const std::string& tokenizer_path, bool with_hmt) {
  fs::path dir = fs::path(dir_name).lexically_normal();
  if (!dir.has_filename()) dir = dir.parent_path();  // "out/" names the directory "out"
  std::string tokenizer_name;
  if (!tokenizer_path.empty()) {
    HMT_CHECK(fs::is_regular_file(tokenizer_path), "{}: tokenizer file not found", tokenizer_path);
    tokenizer_name = fs::path(tokenizer_path).filename().string();
    for (const std::string& reserved :
         {std::string("config.json"), std::string("model.safetensors"), std::string(kHmtConfigFile),
          std::string(kHmtTensorsFile), std::string(kManifestFile)})
      HMT_CHECK(tokenizer_name != reserved, "{}: a tokenizer named {} would overwrite the export's own file",
                tokenizer_path, reserved);
  }
  if (fs::exists(dir) && !fs::is_directory(dir)) fail("{}: exists and is not a directory", dir_name);
  std::error_code ec;
  fs::path parent = dir.has_parent_path() ? dir.parent_path() : fs::path(".");
  fs::create_directories(parent, ec);
  if (ec) fail("{}: cannot create directory: {}", parent.string(), ec.message());

  StagingDir staging(dir.string() + ".partial-XXXXXX");
  // Spec section 8: model.safetensors is the backbone with LoRA merged; the
  // live model keeps its adapters.
  if (lora_module_names(model.backbone()).empty()) save_backbone(model.backbone(), staging.path().string());
  else save_backbone(*merged_copy(model.backbone()), staging.path().string());
  if (with_hmt) {
    NamedTensors hmt_tensors;
    for (const auto& [name, tensor] : model.hmt_tensors()) hmt_tensors.emplace_back(name, tensor.detach());
    save_safetensors((staging.path() / kHmtTensorsFile).string(), hmt_tensors, {{"format", "pt"}});
    write_file_atomically((staging.path() / kHmtConfigFile).string(), hmt_config_json(model.config()).dump(2) + "\n");
  }
  if (!tokenizer_name.empty())
    write_file_atomically((staging.path() / tokenizer_name).string(), read_file_bytes(tokenizer_path));
  std::vector<std::string> written;
  for (const auto& entry : fs::directory_iterator(staging.path())) written.push_back(entry.path().filename().string());
  std::sort(written.begin(), written.end());
  write_manifest(staging.path().string(), written);

  if (!fs::exists(dir)) {
    staging.publish(dir);
    return;
  }
  // An existing directory (re-export): each file replaces its old version
  // atomically; other files in it are left alone. hmt.safetensors is what
  // marks a directory as an export, so it is renamed into place last: a
  // reader never takes a half-published directory for one.
  std::vector<std::string> order = {"config.json", "model.safetensors"};
  if (with_hmt) order.push_back(kHmtConfigFile);
  if (!tokenizer_name.empty()) order.push_back(tokenizer_name);
  order.push_back(kManifestFile);
  if (with_hmt) order.push_back(kHmtTensorsFile);
  for (const std::string& name : order) rename_or_fail(staging.path() / name, dir / name);
  fsync_directory(dir);
}

// A failed write (a full disk) leaves the staging directory to be removed on
// the way out and the directory as it was: files are renamed into it only
// once all of them are written.
void save_export_or_fail(HmtModel& model, const std::string& dir, const std::string& tokenizer_path, bool with_hmt) {
  try {
    save_export(model, dir, tokenizer_path, with_hmt);
  } catch (const std::exception& e) {
    fail("{}: export not written: {}; its partial files were removed, an earlier export there is intact", dir,
         e.what());
  }
}

}  // namespace

void save_hmt_export(HmtModel& model, const std::string& dir, const std::string& tokenizer_path) {
  save_export_or_fail(model, dir, tokenizer_path, /*with_hmt=*/true);
}

void save_backbone_export(HmtModel& model, const std::string& dir, const std::string& tokenizer_path) {
  save_export_or_fail(model, dir, tokenizer_path, /*with_hmt=*/false);
}

std::shared_ptr<HmtModel> load_hmt_export(const std::string& dir_name) {
  const fs::path dir(dir_name);
  if (!fs::is_directory(dir)) fail("{}: not an HMT export directory", dir_name);
  // Before anything is parsed: a damaged file is named as damaged.
  verify_manifest(dir_name);
  const fs::path config_path = dir / kHmtConfigFile;
  const fs::path tensors_path = dir / kHmtTensorsFile;
  for (const fs::path& required : {config_path, tensors_path})
    if (!fs::exists(required))
      fail("{}: missing; an HMT export directory holds config.json, model.safetensors, hmt.safetensors and "
           "hmt_config.json",
           required.string());
  // load_backbone names only the directory when no weights file is there.
  if (!fs::exists(dir / "model.safetensors") && !fs::exists(dir / "model.safetensors.index.json"))
    fail("{}: missing; an HMT export holds the backbone weights there", (dir / "model.safetensors").string());
  HmtConfig config = parse_hmt_config_file(config_path.string());
  auto model = std::make_shared<HmtModel>(load_backbone(dir.string(), torch::kFloat32, /*verify_manifest=*/false),
                                          config);

  SafetensorsFile file(tensors_path.string());
  const std::string recall_state = fmt::format("({} has recall.enabled {})", config_path.string(),
                                               config.recall.enabled ? "true" : "false");
  std::map<std::string, torch::Tensor> expected;
  for (const auto& [name, tensor] : model->hmt_tensors()) expected.emplace(name, tensor);
  for (const std::string& name : file.names())
    HMT_CHECK(expected.count(name), "{}: unexpected tensor \"{}\" {}", tensors_path.string(), name, recall_state);
  NamedTensors loaded;
  for (const auto& [name, tensor] : expected) {
    HMT_CHECK(file.contains(name), "{}: missing tensor \"{}\" {}", tensors_path.string(), name, recall_state);
    const auto& shape = file.entry(name).shape;
    HMT_CHECK(tensor.sizes() == torch::IntArrayRef(shape),
              "{}: shape mismatch for \"{}\": model expects {}, file has {}", tensors_path.string(), name,
              shape_text(tensor.sizes()), shape_text(shape));
    loaded.emplace_back(name, file.get(name, tensor.scalar_type()));
  }
  model->load_hmt_tensors(loaded, tensors_path.string());
  model->eval();
  return model;
}

}  // namespace hmt
