#pragma once
// PNG plots through gnuplot (Debian gnuplot-nox, pngcairo terminal): a
// well-kept plotting program instead of a rasteriser of our own. Beside
// every PNG go its data (.dat) and script (.gp), so a figure can be redrawn
// or restyled by hand. Plotting is best effort: without gnuplot the data and
// script are still written and the caller is told why there is no PNG.
#include <string>
#include <vector>

namespace hmt {

struct PlotSeries {
  std::string title;
  std::vector<double> x, y;  // equal lengths; non-finite y values are left out
};

enum class PlotStyle { Lines, LinesPoints, Bars };

struct PlotSpec {
  std::string title, xlabel, ylabel;
  PlotStyle style = PlotStyle::LinesPoints;
  bool log_x = false, log_y = false;
  std::vector<PlotSeries> series;
};

// Writes PNG_PATH (and PNG_PATH minus .png plus .dat / .gp). Returns "" when
// the PNG was written, else the reason (gnuplot missing or failing, with its
// message). Errors writing the data or script throw hmt::Error naming the file.
std::string plot_png(const PlotSpec& spec, const std::string& png_path);

// The gnuplot script for `spec` reading `data_path` (exposed for tests).
std::string gnuplot_script(const PlotSpec& spec, const std::string& data_path, const std::string& png_path);

}  // namespace hmt
