#include "core/plot.h"

#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/atomic_file.h"
#include "core/error.h"

namespace hmt {
namespace fs = std::filesystem;
namespace {

// gnuplot string literal: single quotes, a quote doubled.
std::string quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

fs::path sibling(const std::string& png_path, const char* extension) {
  fs::path path(png_path);
  return path.replace_extension(extension);
}

}  // namespace

std::string gnuplot_script(const PlotSpec& spec, const std::string& data_path, const std::string& png_path) {
  std::string s;
  // noenhanced: titles are file names and config keys, whose "_" would
  // otherwise start a subscript.
  s += "set terminal pngcairo noenhanced size 900,560 font 'DejaVu Sans,11'\n";
  s += "set output " + quoted(png_path) + "\n";
  s += "set title " + quoted(spec.title) + "\n";
  s += "set xlabel " + quoted(spec.xlabel) + "\n";
  s += "set ylabel " + quoted(spec.ylabel) + "\n";
  s += "set grid\nset key outside right top\n";
  if (spec.log_x) s += "set logscale x\n";
  if (spec.log_y) s += "set logscale y\n";
  std::string with = "linespoints pointtype 7 pointsize 0.8 linewidth 2";
  if (spec.style == PlotStyle::Lines) with = "lines linewidth 2";
  if (spec.style == PlotStyle::Bars) {
    s += "set style fill solid 0.6 border -1\nset boxwidth 0.8\nset yrange [0:*]\n";
    with = "boxes";
  }
  s += "plot ";
  for (size_t i = 0; i < spec.series.size(); ++i) {
    if (i) s += ", \\\n     ";
    s += quoted(data_path) + " index " + std::to_string(i) + " using 1:2 with " + with + " title " +
         quoted(spec.series[i].title);
  }
  return s + "\n";
}

std::string plot_png(const PlotSpec& spec, const std::string& png_path) {
  HMT_CHECK(!spec.series.empty(), "{}: nothing to plot", png_path);
  const fs::path data = sibling(png_path, ".dat"), script = sibling(png_path, ".gp");
  std::string table;
  for (const auto& series : spec.series) {
    HMT_CHECK(series.x.size() == series.y.size(), "{}: series '{}' has {} x and {} y values", png_path, series.title,
              series.x.size(), series.y.size());
    table += "# " + series.title + "\n";
    bool any = false;
    for (size_t i = 0; i < series.x.size(); ++i) {
      if (!std::isfinite(series.x[i]) || !std::isfinite(series.y[i])) continue;
      table += fmt::format("{:.10g} {:.10g}\n", series.x[i], series.y[i]);
      any = true;
    }
    // gnuplot refuses an empty data block; one invisible point keeps the
    // series (and its key entry) without drawing anything.
    if (!any) table += "NaN NaN\n";
    table += "\n\n";  // two blank lines end a gnuplot data block (index i)
  }
  write_file_atomically(data.string(), table);
  // gnuplot draws into a sibling that is renamed over the PNG only when it
  // succeeded: a failed plot (a full disk) leaves an earlier PNG as it was.
  const std::string drawn = png_path + ".tmp.png";
  write_file_atomically(script.string(), gnuplot_script(spec, data.string(), drawn));

  std::error_code ignored;
  fs::remove(drawn, ignored);
  const std::string command = "gnuplot " + quoted(script.string()) + " 2>&1";
  std::FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return "cannot start gnuplot";
  std::string output;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
  const int status = ::pclose(pipe);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
    return "gnuplot not found (Debian: apt-get install gnuplot-nox; scripts/bootstrap.sh installs it); data and "
           "script written to " +
           data.string() + " and " + script.string();
  if (status != 0 || !fs::exists(drawn)) {
    fs::remove(drawn, ignored);
    return "gnuplot failed on " + script.string() + ": " + output;
  }
  std::error_code ec;
  fs::rename(drawn, png_path, ec);
  if (ec) {
    fs::remove(drawn, ignored);
    return "cannot rename " + drawn + " onto " + png_path + ": " + ec.message();
  }
  return "";
}

}  // namespace hmt
