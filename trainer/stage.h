#pragma once
// What a stage of train.stages is (docs/hmt.md section 5) and how it sets up the
// model: recall on or off, and which parameters train.
//   backbone: the backbone alone on windows; no hmt.* tensor trains
//   stage1:   recall off; hmt.memory trains, hmt.summary_prompt and
//             hmt.recall.* are frozen (they get no gradient without recall)
//   stage2:   recall on; every hmt.* tensor trains
// The backbone trains as the stage's mode says (train.<stage>.trainable,
// else model.trainable): full, only its LoRA adapters, or not at all.
#include <string>

#include "core/experiment_config.h"  // StageKind, TrainableMode
#include "model/hmt_model.h"

namespace hmt {

// A stage name read back from a file (trainer_state.json); train.stages
// itself is parsed with the config. Unknown names are an error.
StageKind parse_stage_kind(const std::string& name);
bool uses_memory(StageKind kind);
bool recall_enabled(StageKind kind);

// Sets recall and requires_grad on `model` for the stage; returns the
// trainable scalar count. Errors when nothing would train (a backbone stage
// with model.trainable: frozen).
int64_t prepare_stage(HmtModel& model, StageKind kind, TrainableMode trainable_mode);

}  // namespace hmt
