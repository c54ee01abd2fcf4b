#include "eval/report_plots.h"

#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "core/plot.h"
#include "trainer/metrics.h"

namespace hmt {
namespace fs = std::filesystem;

std::vector<double> ema_smooth(const std::vector<double>& values, double ema) {
  HMT_CHECK(ema >= 0 && ema < 1, "plot: the EMA weight must be in [0, 1), got {}", ema);
  std::vector<double> out(values.size(), NAN);
  // sum and weight run the same recursion, so sum / weight is the weighted
  // mean of the values seen so far (the debiasing).
  double sum = 0, weight = 0;
  for (size_t t = 0; t < values.size(); ++t) {
    if (std::isfinite(values[t])) {
      sum = ema * sum + (1 - ema) * values[t];
      weight = ema * weight + (1 - ema);
    }
    if (weight > 0) out[t] = sum / weight;
  }
  return out;
}

std::string plot_training_curves(const std::vector<std::string>& run_dirs, const std::vector<std::string>& labels,
                                 const TrainingPlotOptions& options, const std::string& png_path) {
  HMT_CHECK(!run_dirs.empty(), "plot: no run directory given");
  HMT_CHECK(labels.empty() || labels.size() == run_dirs.size(), "plot: {} labels for {} runs", labels.size(),
            run_dirs.size());
  const std::string& metric = options.metric;
  const bool valid = metric.rfind("valid_", 0) == 0;
  const bool smooth = !valid && options.ema > 0;
  PlotSpec spec;
  spec.title = "training: " + metric + (smooth ? fmt::format(" (EMA {:g} of the steps)", options.ema) : "");
  spec.xlabel = "optimizer step (all stages)";
  spec.ylabel = metric;
  spec.style = valid ? PlotStyle::LinesPoints : PlotStyle::Lines;
  spec.log_y = options.log_y;
  for (size_t i = 0; i < run_dirs.size(); ++i) {
    const std::string path = (fs::path(run_dirs[i]) / "metrics.jsonl").string();
    PlotSeries series;
    series.title = labels.empty() ? fs::path(run_dirs[i]).lexically_normal().filename().string() : labels[i];
    for (const auto& row : read_metrics(path)) {
      if (row.value("kind", "") != (valid ? "valid" : "train")) continue;
      if (!row.contains(metric)) fail("{}: rows of kind {} have no \"{}\"", path, valid ? "valid" : "train", metric);
      const auto& value = row[metric];
      series.x.push_back(row["global_step"].get<double>());
      series.y.push_back(value.is_number() ? value.get<double>() : NAN);
    }
    HMT_CHECK(!series.x.empty(), "{}: no {} rows", path, valid ? "validation" : "training");
    if (smooth) series.y = ema_smooth(series.y, options.ema);
    spec.series.push_back(std::move(series));
  }
  return plot_png(spec, png_path);
}

namespace {

// Calls add(title, result) for each result that has `key` in every report;
// the title names the report (its model's folder, or its label) and the
// memory mode, unless a label names a report with one such result.
template <class Add>
void each_result(const std::vector<nlohmann::json>& reports, const std::vector<std::string>& labels,
                 const std::string& key, Add add) {
  HMT_CHECK(!reports.empty(), "plot: no eval report given");
  HMT_CHECK(labels.empty() || labels.size() == reports.size(), "plot: {} labels for {} reports", labels.size(),
            reports.size());
  for (size_t i = 0; i < reports.size(); ++i) {
    const std::string name = labels.empty() ? fs::path(reports[i].value("model", "model")).filename().string()
                                            : labels[i];
    int64_t with_key = 0;
    for (const auto& entry : reports[i].at("results")) with_key += entry.contains(key);
    for (const auto& entry : reports[i].at("results")) {
      if (!entry.contains(key)) continue;
      add(labels.empty() || with_key > 1 ? name + " (" + entry["mode"].get<std::string>() + ")" : name, entry);
    }
  }
}

}  // namespace

std::string plot_context_curves(const std::vector<nlohmann::json>& reports, const std::vector<std::string>& labels,
                                const std::string& png_path) {
  PlotSpec spec;
  spec.title = "perplexity of one segment after X tokens of history";
  spec.xlabel = "context X (tokens)";
  spec.ylabel = "PPL";
  spec.log_x = true;
  each_result(reports, labels, "contexts", [&](const std::string& title, const nlohmann::json& entry) {
    PlotSeries series;
    series.title = title;
    for (const auto& row : entry["contexts"]) {
      series.x.push_back(row["context"].get<double>());
      series.y.push_back(row["ppl"].get<double>());
    }
    spec.series.push_back(std::move(series));
  });
  HMT_CHECK(!spec.series.empty(), "plot: no report has context results (run hmt eval with --contexts)");
  return plot_png(spec, png_path);
}

std::string plot_recall_curves(const std::vector<nlohmann::json>& reports, const std::vector<std::string>& labels,
                               const std::string& png_path) {
  PlotSpec spec;
  spec.title = "recall: exact match of the answer against the distance of its fact";
  spec.xlabel = "distance D (segments between fact and query)";
  spec.ylabel = "exact match (%)";
  spec.log_x = true;
  double chance = -1, lo = 0, hi = 0;
  each_result(reports, labels, "recall_task", [&](const std::string& title, const nlohmann::json& entry) {
    const auto& task = entry["recall_task"];
    PlotSeries series;
    series.title = title;
    for (const auto& row : task["distances"]) {
      series.x.push_back(row["distance"].get<double>());
      series.y.push_back(100.0 * row["accuracy"].get<double>());
    }
    if (chance < 0) {
      chance = 100.0 * task["chance"].get<double>();
      lo = series.x.front();
      hi = series.x.back();
    }
    spec.series.push_back(std::move(series));
  });
  HMT_CHECK(!spec.series.empty(), "plot: no report has recall results (run hmt eval on a passkey split)");
  spec.series.push_back({"chance", {lo, hi}, {chance, chance}});
  return plot_png(spec, png_path);
}

}  // namespace hmt
