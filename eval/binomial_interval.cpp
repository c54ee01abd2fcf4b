#include "eval/binomial_interval.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace hmt {

RateInterval wilson_interval(int64_t successes, int64_t trials, double z) {
  HMT_CHECK(trials > 0 && successes >= 0 && successes <= trials, "wilson_interval: {} successes of {} trials",
            successes, trials);
  const double n = static_cast<double>(trials), p = static_cast<double>(successes) / n, z2 = z * z;
  const double centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const double half = z * std::sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n);
  // At 0 or n successes one bound is exactly 0 or 1; rounding must not move it.
  return {successes == 0 ? 0.0 : std::max(0.0, centre - half),
          successes == trials ? 1.0 : std::min(1.0, centre + half)};
}

}  // namespace hmt
