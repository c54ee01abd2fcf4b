#include "trainer/lr_schedule.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace hmt {

double learning_rate(const StageConfig& stage, int64_t step) {
  HMT_CHECK(step >= 0, "learning_rate: step {} is negative", step);
  const ScheduleConfig& s = stage.schedule;
  const double peak = stage.lr;
  const bool warming = step < s.warmup_steps;
  const double warmup = warming ? static_cast<double>(step) / static_cast<double>(s.warmup_steps) : 1.0;
  if (s.name == "constant") return peak * warmup;
  if (s.name == "step") return peak * warmup * std::pow(s.gamma, static_cast<double>(step / s.step_size));
  if (s.name == "cosine") {
    if (warming) return peak * warmup;
    const double span = static_cast<double>(std::max<int64_t>(1, stage.steps - s.warmup_steps));
    const double progress = static_cast<double>(step - s.warmup_steps) / span;
    return s.min_lr + (peak - s.min_lr) * 0.5 * (1.0 + std::cos(M_PI * progress));
  }
  fail("train schedule.name: unknown schedule '{}' (expected constant, step or cosine)", s.name);
}

}  // namespace hmt
