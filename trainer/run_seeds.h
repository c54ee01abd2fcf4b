#pragma once
// The seeds a run derives from runtime.seed, so that what a step draws
// depends only on where the run is (resume exactness), and stages do not
// share their data order.
#include <cstdint>

#include "core/experiment_config.h"  // StageKind

namespace hmt {

// torch's generator at the start of optimizer step `step` of stage `stage`
// on `rank` (dropout, LoRA dropout, their checkpointed replay).
uint64_t step_seed(uint64_t seed, int64_t stage, int64_t step, int rank);

// The training loader's seed of a stage: runtime.seed itself for the
// backbone stage, a decorrelated one each for stage 1 and stage 2, so that a
// stage does not replay the batches of the one before it (with one seed it
// would, window for window, whenever both use the same S). It depends on the
// kind, not the position in train.stages, so stage 2 run alone from stage
// 1's checkpoint reads what it reads after stage 1 in one run.
uint64_t stage_data_seed(uint64_t seed, StageKind kind);

// torch's generator for the fresh hmt.* draws when a stage of `kind` starts
// (docs/hmt.md section 5): by kind, like stage_data_seed, so that stage 2
// run alone from stage 1's checkpoint draws what it draws in one run.
uint64_t stage_init_seed(uint64_t seed, StageKind kind);

}  // namespace hmt
