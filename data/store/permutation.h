#pragma once
// The epoch order of the loader: one permutation of [0, n) that depends only
// on (seed, epoch), the same on every rank and every platform. It uses its
// own generator (SplitMix64) and an unbiased bounded draw, because
// std::shuffle and std::uniform_int_distribution differ between standard
// libraries.
#include <cstdint>
#include <vector>

namespace hmt {

// Fisher-Yates over [0, n) driven by SplitMix64 seeded from (seed, epoch).
std::vector<int64_t> epoch_permutation(int64_t n, uint64_t seed, int64_t epoch);

}  // namespace hmt
