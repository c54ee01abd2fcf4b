#pragma once
// The figures of a study (and of `make demo`): training curves from runs'
// metrics.jsonl, PPL against context length and recall accuracy against
// distance from `hmt eval` reports.
// Both go through core/plot.h; each returns "" when the PNG was written,
// else why not.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace hmt {

struct TrainingPlotOptions {
  std::string metric = "loss";
  // Weight of the history in an exponential moving average of the training
  // rows (0 = raw values); validation rows are never smoothed.
  double ema = 0.9;
  bool log_y = false;
};

// One series per run: `metric` of the training rows ("loss", "ppl",
// "grad_norm", "tokens_per_s", ...) or, prefixed "valid_", of the validation
// rows ("valid_ppl", "valid_loss"), against global_step. labels: one per run
// or empty (the run directory names). Errors name a run without the metric.
std::string plot_training_curves(const std::vector<std::string>& run_dirs, const std::vector<std::string>& labels,
                                 const TrainingPlotOptions& options, const std::string& png_path);

// The debiased exponential moving average: out[t] is the mean of the finite
// values up to t, y_0..y_n, weighted ema^(n - j), so the first points are not
// pulled towards 0 (the zero start of a plain EMA). A non-finite value (a
// skipped step) is left out and does not age the others; out[t] is NaN until
// the first finite one. ema in [0, 1).
std::vector<double> ema_smooth(const std::vector<double>& values, double ema);

// One series per (report, mode) with context lengths: PPL against context.
// labels: one per report or empty (the model directory names); a report
// with several modes gets "label (mode)" per mode.
std::string plot_context_curves(const std::vector<nlohmann::json>& reports, const std::vector<std::string>& labels,
                                const std::string& png_path);

// One series per (report, mode) with recall results (a passkey split):
// exact-match accuracy (%) against the distance D in segments, and the
// chance level of the first report as a flat line.
std::string plot_recall_curves(const std::vector<nlohmann::json>& reports, const std::vector<std::string>& labels,
                               const std::string& png_path);

}  // namespace hmt
