// How far an exact-match rate measured on n samples can be trusted: the
// Wilson score interval. The recall benchmark reports 30-200 samples per
// distance, where the normal approximation p +- z sqrt(p(1-p)/n) breaks down
// (it gives [0, 0] for 0 of 30 and bounds outside [0, 1] near the ends); the
// Wilson bounds are the two rates p whose score test |p_hat - p| =
// z sqrt(p(1-p)/n) is exactly at the edge, so they stay inside [0, 1] and
// are not degenerate at 0 or n successes.
#pragma once

#include <cstdint>

namespace hmt {

struct RateInterval {
  double low = 0, high = 0;
};

// The two-sided Wilson interval of `successes` out of `trials` at normal
// quantile z (1.96: 95%). trials must be positive and successes in [0, trials].
RateInterval wilson_interval(int64_t successes, int64_t trials, double z = 1.959963984540054);

}  // namespace hmt
