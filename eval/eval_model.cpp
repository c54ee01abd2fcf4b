#include "eval/eval_model.h"

#include <filesystem>

#include "core/error.h"
#include "model/backbone.h"
#include "model/hmt_export.h"
#include "trainer/checkpoint.h"
#include "trainer/stage.h"

namespace hmt {
namespace fs = std::filesystem;
namespace {

// The tokenizer file an export carries (save_hmt_export copies it under its
// own name beside the export's fixed files).
std::string export_tokenizer(const fs::path& dir) {
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    const std::string ext = entry.path().extension().string();
    if (name == "tokenizer.json" || name == "vocab.json" || ext == ".model") return entry.path().string();
  }
  return "";
}

MemoryMode mode_of(const HmtConfig& config) {
  if (config.recall.enabled || config.num_sensory > 0) return MemoryMode::Hmt;
  return MemoryMode::Rmt;
}

}  // namespace

EvalModel load_eval_model(const std::string& path, int64_t segment_length) {
  HMT_CHECK(fs::is_directory(path), "{}: not a directory (expected an export, run or checkpoint directory)", path);
  EvalModel out;
  const fs::path dir(path);
  // A checkpoint holds hmt.safetensors too, so the run/checkpoint test comes first.
  const bool run_or_checkpoint = fs::exists(dir / "trainer_state.json") || fs::is_directory(dir / "checkpoints");
  if (!run_or_checkpoint && is_hmt_export(path)) {
    HMT_CHECK(segment_length == 0,
              "{}: --segment-length is only for plain HF directories; an export has its own "
              "(hmt_config.json)",
              path);
    out.model = load_hmt_export(path);
    out.source = path;
    out.kind = "export";
    out.hmt_trained = true;
    out.tokenizer_path = export_tokenizer(dir);
    out.default_mode = mode_of(out.model->config());
    return out;
  }
  if (run_or_checkpoint) {
    HMT_CHECK(segment_length == 0,
              "{}: --segment-length is only for plain HF directories; a run has its own "
              "(hmt.segment_length)",
              path);
    LoadedRun run = load_run(path);
    out.model = run.model;
    out.source = run.checkpoint_dir;
    out.kind = "checkpoint";
    const StageKind stage = run.config.train.stages.at(static_cast<size_t>(run.stage));
    out.stage = to_string(stage);
    const bool backbone_stage = stage == StageKind::Backbone;
    out.hmt_trained = !backbone_stage;
    const std::string& tokenizer = run.config.tokenizer.path;
    if (!tokenizer.empty() && fs::exists(tokenizer)) out.tokenizer_path = tokenizer;
    out.default_mode = backbone_stage ? MemoryMode::None : mode_of(out.model->config());
    return out;
  }
  HMT_CHECK(fs::exists(dir / "config.json"),
            "{}: neither an HMT export (hmt.safetensors), a run directory (checkpoints/), a checkpoint "
            "(trainer_state.json) nor an HF model directory (config.json)",
            path);
  HMT_CHECK(segment_length > 0,
            "{}: a plain HF model directory needs --segment-length L (it runs in backbone "
            "mode, segment by segment)",
            path);
  HmtConfig config;
  config.segment_length = segment_length;
  config.num_sensory = 0;
  config.recall.enabled = false;
  out.model = std::make_shared<HmtModel>(load_backbone(path), config);
  out.model->eval();
  out.source = path;
  out.kind = "hf";
  out.tokenizer_path = export_tokenizer(dir);
  out.default_mode = MemoryMode::None;
  return out;
}

void check_mode(const EvalModel& model, MemoryMode mode) {
  if (mode == MemoryMode::None || mode == MemoryMode::Full || model.hmt_trained) return;
  fail("{}: mode {} needs trained hmt.* tensors, and this {} has none ({}); it can run mode backbone", model.source,
       memory_mode_name(mode), model.kind == "hf" ? "HF model directory" : "checkpoint",
       model.kind == "hf" ? "no hmt.safetensors" : "a backbone-stage checkpoint");
}

}  // namespace hmt
