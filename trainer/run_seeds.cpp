#include "trainer/run_seeds.h"

#include "core/splitmix.h"

namespace hmt {

// splitmix64 decorrelates the seeds of neighbouring (stage, step, rank).
uint64_t step_seed(uint64_t seed, int64_t stage, int64_t step, int rank) {
  return splitmix64(splitmix64(splitmix64(seed) ^ static_cast<uint64_t>(stage)) ^ static_cast<uint64_t>(step)) ^
         splitmix64(static_cast<uint64_t>(rank) + 1);
}

uint64_t stage_data_seed(uint64_t seed, StageKind kind) {
  if (kind == StageKind::Backbone) return seed;
  return splitmix64(seed ^ splitmix64(kind == StageKind::Stage1 ? 1 : 2));
}

uint64_t stage_init_seed(uint64_t seed, StageKind kind) {
  return splitmix64(splitmix64(seed ^ 0x686d742e696e6974ULL) ^ static_cast<uint64_t>(kind));  // "hmt.init"
}

}  // namespace hmt
