// The training-curve figure: the EMA that smooths the training rows, against
// its closed form, and what the plot reads and writes from a metrics.jsonl.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <sstream>

#include "eval/report_plots.h"
#include "tests/test_paths.h"

namespace {

// The closed form: the finite values up to t, y_0..y_n (a skipped step does
// not age the others), averaged with weights a^(n-j).
double weighted_mean(const std::vector<double>& x, size_t t, double a) {
  std::vector<double> y;
  for (size_t i = 0; i <= t; ++i)
    if (std::isfinite(x[i])) y.push_back(x[i]);
  double sum = 0, weight = 0;
  for (size_t j = 0; j < y.size(); ++j) {
    sum += std::pow(a, static_cast<double>(y.size() - 1 - j)) * y[j];
    weight += std::pow(a, static_cast<double>(y.size() - 1 - j));
  }
  return weight > 0 ? sum / weight : NAN;
}

// The y values of each data block of a gnuplot .dat file.
std::vector<std::vector<double>> dat_blocks(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<std::vector<double>> blocks(1);
  std::string line;
  int blank = 0;
  while (std::getline(in, line)) {
    if (line.empty()) {
      if (++blank == 2 && !blocks.back().empty()) blocks.emplace_back();
      continue;
    }
    blank = 0;
    if (line[0] == '#') continue;
    std::istringstream row(line);
    double x, y;
    row >> x >> y;
    blocks.back().push_back(y);
  }
  if (blocks.back().empty()) blocks.pop_back();
  return blocks;
}

}  // namespace

TEST_CASE("plot: the EMA of the training rows is the debiased weighted mean, skipping non-finite steps",
          "[eval][plot]") {
  const std::vector<double> x = {5.0, 4.0, NAN, 6.5, 3.0, 2.0, INFINITY, 2.5};
  for (double a : {0.0, 0.5, 0.9}) {
    auto smooth = hmt::ema_smooth(x, a);
    REQUIRE(smooth.size() == x.size());
    for (size_t t = 0; t < x.size(); ++t) CHECK(smooth[t] == Approx(weighted_mean(x, t, a)).epsilon(1e-12));
  }
  CHECK(hmt::ema_smooth(x, 0.0)[3] == 6.5);                         // no history weight: the raw value
  CHECK(hmt::ema_smooth(x, 0.5)[2] == hmt::ema_smooth(x, 0.5)[1]);  // a skipped step repeats the last
  auto leading_nan = hmt::ema_smooth({NAN, 1.0}, 0.9);
  CHECK(std::isnan(leading_nan[0]));
  CHECK(leading_nan[1] == 1.0);  // debiased: the first finite value itself, not 0.1
  CHECK_THROWS_WITH(hmt::ema_smooth(x, 1.0), Catch::Contains("EMA weight"));
}

TEST_CASE("plot: training rows are smoothed on a linear axis, validation rows drawn as measured", "[eval][plot]") {
  const auto dir = hmt::test::temp_dir("report_plots");
  const std::vector<double> loss = {6.0, 5.0, 5.5, 4.0};
  {
    std::ofstream metrics(dir / "metrics.jsonl");
    for (size_t i = 0; i < loss.size(); ++i)
      metrics << "{\"kind\": \"train\", \"global_step\": " << i + 1 << ", \"loss\": " << loss[i] << "}\n";
    metrics << "{\"kind\": \"valid\", \"global_step\": 2, \"valid_ppl\": 300.5}\n";
    metrics << "{\"kind\": \"valid\", \"global_step\": 4, \"valid_ppl\": 250.25}\n";
  }
  hmt::TrainingPlotOptions options;
  options.ema = 0.5;
  hmt::plot_training_curves({dir.string()}, {"hmt"}, options, (dir / "loss.png").string());
  auto blocks = dat_blocks(dir / "loss.dat");
  REQUIRE(blocks.size() == 1);
  REQUIRE(blocks[0].size() == loss.size());
  for (size_t t = 0; t < loss.size(); ++t) CHECK(blocks[0][t] == Approx(weighted_mean(loss, t, 0.5)));
  std::ifstream script(dir / "loss.gp");
  std::string gp((std::istreambuf_iterator<char>(script)), {});
  CHECK(gp.find("logscale y") == std::string::npos);
  CHECK(gp.find("EMA 0.5") != std::string::npos);

  options.metric = "valid_ppl";
  options.log_y = true;
  hmt::plot_training_curves({dir.string()}, {"hmt"}, options, (dir / "valid.png").string());
  blocks = dat_blocks(dir / "valid.dat");
  REQUIRE(blocks.size() == 1);
  CHECK(blocks[0] == std::vector<double>{300.5, 250.25});
  std::ifstream valid_script(dir / "valid.gp");
  std::string vgp((std::istreambuf_iterator<char>(valid_script)), {});
  CHECK(vgp.find("logscale y") != std::string::npos);
  CHECK(vgp.find("EMA") == std::string::npos);
  // Labels are literal text: in gnuplot's enhanced mode "valid_ppl" prints
  // its first p as a subscript.
  CHECK(vgp.find("set terminal pngcairo noenhanced") != std::string::npos);
  CHECK(vgp.find("set ylabel 'valid_ppl'") != std::string::npos);
}
