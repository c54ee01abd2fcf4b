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

// One series per run: `metric` of the training rows ("loss", "ppl",
// "grad_norm", "tokens_per_s", ...) or, prefixed "valid_", of the validation
// rows ("valid_ppl", "valid_loss"), against global_step. labels: one per run
// or empty (the run directory names). Errors name a run without the metric.
std::string plot_training_curves(const std::vector<std::string>& run_dirs, const std::vector<std::string>& labels,
                                 const std::string& metric, const std::string& png_path);

// One series per (report, mode) with context lengths: PPL against context.
// labels: one per report or empty (the model directory names).
std::string plot_context_curves(const std::vector<nlohmann::json>& reports, const std::vector<std::string>& labels,
                                const std::string& png_path);

// One series per (report, mode) with recall results (a passkey split):
// exact-match accuracy (%) against the distance D in segments, and the
// chance level of the first report as a flat line.
std::string plot_recall_curves(const std::vector<nlohmann::json>& reports, const std::vector<std::string>& labels,
                               const std::string& png_path);

}  // namespace hmt
