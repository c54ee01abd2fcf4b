#pragma once
// What `hmt eval` (and `hmt export`) evaluate: an HMT export directory, a run
// directory (its newest valid checkpoint), one checkpoint directory, or a
// plain HF model directory (backbone mode only). One loader so that every
// consumer sees the same model, tokenizer and default mode for a path.
#include <cstdint>
#include <memory>
#include <string>

#include "model/hmt_model.h"
#include "model/segment_runner.h"

namespace hmt {

struct EvalModel {
  std::shared_ptr<HmtModel> model;  // eval mode, float32
  std::string source;               // the directory the weights came from
  std::string kind;                 // "export", "checkpoint" or "hf"
  std::string stage;                // a checkpoint's stage (backbone, stage1, stage2); "" otherwise
  bool hmt_trained = false;         // the hmt.* tensors came from the files (not a backbone stage / HF dir)
  std::string tokenizer_path;       // the tokenizer the model was trained with; "" when unknown
  MemoryMode default_mode = MemoryMode::Hmt;
};

// `segment_length` > 0 is required for a plain HF directory (its L) and
// refused otherwise (an export or checkpoint has its own). Errors name the
// path and what it lacks.
EvalModel load_eval_model(const std::string& path, int64_t segment_length = 0);

// Throws when `mode` needs trained hmt.* tensors that `model` lacks, naming
// the path and the mode it can run.
void check_mode(const EvalModel& model, MemoryMode mode);

}  // namespace hmt
