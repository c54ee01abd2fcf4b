#pragma once
// The learning rate of one stage at its step t = 0..steps-1 (0-based: the
// rate used by the (t+1)-th optimizer step). With peak rate lr, warm-up W
// and w(t) = t / W for t < W, else 1:
//   constant: lr * w(t)
//   step:     lr * w(t) * gamma^floor(t / step_size)   (torch StepLR stepped
//             once per optimizer step, as the official code does)
//   cosine:   t < W: lr * t / W; else min_lr + (lr - min_lr) * 0.5 *
//             (1 + cos(pi * (t - W) / max(1, steps - W)))   (HF's
//             get_cosine_schedule_with_warmup, with a floor)
#include <cstdint>

#include "core/experiment_config.h"

namespace hmt {

double learning_rate(const StageConfig& stage, int64_t step);

}  // namespace hmt
