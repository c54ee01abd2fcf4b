#include "trainer/run_seeds.h"

namespace hmt {
namespace {

// splitmix64: decorrelates the seeds of neighbouring (stage, step, rank).
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

uint64_t step_seed(uint64_t seed, int64_t stage, int64_t step, int rank) {
  return mix(mix(mix(seed) ^ static_cast<uint64_t>(stage)) ^ static_cast<uint64_t>(step)) ^
         mix(static_cast<uint64_t>(rank) + 1);
}

uint64_t stage_data_seed(uint64_t seed, StageKind kind) {
  if (kind == StageKind::Backbone) return seed;
  return mix(seed ^ mix(kind == StageKind::Stage1 ? 1 : 2));
}

}  // namespace hmt
