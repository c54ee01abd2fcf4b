#pragma once
// The recall distance histogram of `hmt eval`: for every recall (a segment n
// whose memory came from the cache), how many segments back its strongest
// attention weight points: n - i for the cached M_i with the largest weight.
// A model that only reads its newest memory puts everything at distance 1.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "model/segment_runner.h"

namespace hmt {

class RecallHistogram {
 public:
  // Counts the rows of `trace` whose memory came from recall; a trace
  // without recall weights adds nothing.
  void add(const SegmentTrace& trace);

  int64_t total() const { return total_; }
  // counts()[d - 1] = recalls whose strongest weight was d segments back.
  const std::vector<int64_t>& counts() const { return counts_; }
  double mean_distance() const;

  // {"recalls", "mean_distance", "distance": [1..], "count": [...]}
  nlohmann::ordered_json to_json() const;

 private:
  std::vector<int64_t> counts_;
  int64_t total_ = 0;
};

// A bar chart of the histogram (core/plot.h); "" when written, else why not.
std::string plot_recall_histogram(const RecallHistogram& histogram, const std::string& title,
                                  const std::string& png_path);

}  // namespace hmt
