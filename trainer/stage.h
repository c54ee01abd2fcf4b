#pragma once
// What a stage of train.stages is (HMT_SPEC section 5) and how it sets up the
// model: recall on or off, and which parameters train.
//   backbone: the backbone alone on windows; no hmt.* tensor trains
//   stage1:   recall off; hmt.memory trains, hmt.summary_prompt and
//             hmt.recall.* are frozen (they get no gradient without recall)
//   stage2:   recall on; every hmt.* tensor trains
// The backbone trains as model.trainable says (full, or only its LoRA
// adapters, or not at all).
#include <string>

#include "model/hmt_model.h"

namespace hmt {

enum class StageKind { Backbone, Stage1, Stage2 };

StageKind parse_stage_kind(const std::string& name);
bool uses_memory(StageKind kind);
bool recall_enabled(StageKind kind);

// Sets recall and requires_grad on `model` for the stage; returns the
// trainable scalar count. Errors when nothing would train (a backbone stage
// with model.trainable: frozen).
int64_t prepare_stage(HmtModel& model, StageKind kind, const std::string& trainable_mode);

}  // namespace hmt
