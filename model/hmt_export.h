#pragma once
// The HMT export directory (docs/hmt.md section 8): what `hmt score` and other
// tools read. A plain HF model directory plus the memory parameters:
//   config.json        HF backbone config
//   model.safetensors  backbone, HF tensor names (LoRA merged)
//   hmt.safetensors    hmt.* tensors; no hmt.summary_prompt / hmt.recall.*
//                      when recall is disabled
//   hmt_config.json    segment_length, num_sensory, sum_fraction,
//                      recall: {enabled, context, hidden_dim}
//   <tokenizer file>   copied when one was used (ids work without it)
#include <nlohmann/json.hpp>

#include <memory>
#include <string>

#include "core/experiment_config.h"
#include "model/hmt_model.h"

namespace hmt {

// Writes the export into `dir` (created when missing). All files are first
// written into a sibling staging directory and then renamed into place, so
// a crash never leaves a half-written file under a final name; when `dir`
// did not exist the whole directory appears at once. `tokenizer_path` empty
// = none; otherwise that file is copied under its own file name.
void save_hmt_export(HmtModel& model, const std::string& dir, const std::string& tokenizer_path = "");

// The backbone alone as a plain HF model directory (config.json,
// model.safetensors with LoRA merged, the tokenizer), written the same
// staged way: what a backbone-stage run exports to.
void save_backbone_export(HmtModel& model, const std::string& dir, const std::string& tokenizer_path = "");

// Loads an export in eval mode (float32). Errors name the file at fault:
// a missing file, a missing/unknown/ill-typed hmt_config.json key, a
// missing/unexpected hmt.* tensor or a shape mismatch (including recall
// enabled in hmt_config.json without the recall tensors).
std::shared_ptr<HmtModel> load_hmt_export(const std::string& dir);

// An export is recognised by its hmt.safetensors or its hmt_config.json (a
// plain HF directory has neither); load_hmt_export then requires both.
bool is_hmt_export(const std::string& dir);

// hmt_config.json <-> HmtConfig. Parsing requires every key; `source` names
// the file in errors.
nlohmann::ordered_json hmt_config_json(const HmtConfig& config);
HmtConfig parse_hmt_config_file(const std::string& path);

}  // namespace hmt
