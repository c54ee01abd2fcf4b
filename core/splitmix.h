#pragma once
// SplitMix64's output function: a strong 64-bit mix of x + the golden-ratio
// increment. Used both as a hash of small integers (run seeds) and, over an
// incremented state, as the loader's portable generator.
#include <cstdint>

namespace hmt {

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace hmt
