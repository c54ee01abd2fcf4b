// The recall distance histogram: the strongest weight of each recalled row,
// as segments back, on hand-made traces; and its PNG.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <fstream>

#include "eval/recall_histogram.h"
#include "tests/test_paths.h"

TEST_CASE("eval: recall histogram counts the strongest weight's distance of recalled rows only", "[eval]") {
  hmt::RecallHistogram histogram;
  hmt::SegmentTrace trace;
  trace.index = 5;
  trace.cache_segments = {2, 3, 4};
  trace.recall_weights = torch::tensor({0.1, 0.7, 0.2, 0.5, 0.2, 0.3, 0.2, 0.1, 0.7}).reshape({3, 3});
  trace.recall_rows = torch::tensor({true, false, true});
  histogram.add(trace);  // row 0: segment 3 -> 2 back; row 1 not recalled; row 2: segment 4 -> 1 back
  trace.index = 9;
  trace.cache_segments = {6, 7, 8};
  trace.recall_weights = torch::tensor({0.6, 0.3, 0.1}).reshape({1, 3});
  trace.recall_rows = torch::tensor({true});
  histogram.add(trace);  // segment 6 -> 3 back
  hmt::SegmentTrace no_recall;
  no_recall.index = 3;
  histogram.add(no_recall);
  CHECK(histogram.total() == 3);
  CHECK(histogram.counts() == std::vector<int64_t>{1, 1, 1});
  CHECK(histogram.mean_distance() == Approx(2.0));
  auto json = histogram.to_json();
  CHECK(json["recalls"] == 3);
  CHECK(json["distance"] == nlohmann::ordered_json::array({1, 2, 3}));
}

TEST_CASE("plot: the recall histogram becomes a PNG with its data and gnuplot script beside it", "[eval][plot]") {
  hmt::RecallHistogram histogram;
  hmt::SegmentTrace trace;
  trace.index = 2;
  trace.cache_segments = {0, 1};
  trace.recall_weights = torch::tensor({0.9, 0.1}).reshape({1, 2});
  histogram.add(trace);
  const auto dir = hmt::test::temp_dir("plot");
  const auto png = (dir / "recall.png").string();
  const std::string problem = hmt::plot_recall_histogram(histogram, "title with 'quotes'", png);
  // The data file is written either way; the PNG needs gnuplot.
  std::ifstream data(dir / "recall.dat");
  std::string text((std::istreambuf_iterator<char>(data)), std::istreambuf_iterator<char>());
  CHECK(text.find("2 1\n") != std::string::npos);  // distance 2: one recall
  if (!problem.empty() && problem.find("not found") != std::string::npos) {
    WARN("skipped the PNG check: " << problem);
    return;
  }
  REQUIRE(problem.empty());
  std::ifstream in(png, std::ios::binary);
  char signature[8] = {};
  in.read(signature, 8);
  CHECK(std::string(signature + 1, 3) == "PNG");
}
