#include "eval/recall_histogram.h"

#include "core/plot.h"

namespace hmt {

void RecallHistogram::add(const SegmentTrace& trace) {
  if (!trace.recall_weights.defined() || trace.cache_segments.empty()) return;
  auto strongest = trace.recall_weights.argmax(/*dim=*/1).to(torch::kCPU);
  auto rows = trace.recall_rows.defined() ? trace.recall_rows.to(torch::kCPU)
                                          : torch::ones({strongest.size(0)}, torch::kBool);
  auto index = strongest.accessor<int64_t, 1>();
  auto recalled = rows.accessor<bool, 1>();
  for (int64_t r = 0; r < strongest.size(0); ++r) {
    if (!recalled[r]) continue;
    const int64_t distance = trace.index - trace.cache_segments[static_cast<size_t>(index[r])];
    if (distance < 1) continue;  // cannot happen: the cache holds earlier segments only
    if (static_cast<int64_t>(counts_.size()) < distance) counts_.resize(static_cast<size_t>(distance), 0);
    ++counts_[static_cast<size_t>(distance - 1)];
    ++total_;
  }
}

double RecallHistogram::mean_distance() const {
  if (total_ == 0) return 0;
  double sum = 0;
  for (size_t d = 0; d < counts_.size(); ++d) sum += static_cast<double>(d + 1) * static_cast<double>(counts_[d]);
  return sum / static_cast<double>(total_);
}

nlohmann::ordered_json RecallHistogram::to_json() const {
  std::vector<int64_t> distance;
  for (size_t d = 0; d < counts_.size(); ++d) distance.push_back(static_cast<int64_t>(d + 1));
  return {{"recalls", total_}, {"mean_distance", mean_distance()}, {"distance", distance}, {"count", counts_}};
}

std::string plot_recall_histogram(const RecallHistogram& histogram, const std::string& title,
                                  const std::string& png_path) {
  PlotSpec spec;
  spec.title = title;
  spec.xlabel = "segments back (n - i of the strongest recall weight)";
  spec.ylabel = "recalls";
  spec.style = PlotStyle::Bars;
  PlotSeries series;
  series.title = "recalls";
  for (size_t d = 0; d < histogram.counts().size(); ++d) {
    series.x.push_back(static_cast<double>(d + 1));
    series.y.push_back(static_cast<double>(histogram.counts()[d]));
  }
  spec.series.push_back(std::move(series));
  return plot_png(spec, png_path);
}

}  // namespace hmt
