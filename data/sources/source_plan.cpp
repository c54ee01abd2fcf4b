#include "data/sources/source_plan.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace hmt {

std::vector<std::string> list_files(const std::string& folder, const std::string& extension) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (it->is_regular_file() && name.size() >= extension.size() &&
        name.compare(name.size() - extension.size(), extension.size(), extension) == 0)
      files.push_back(it->path().string());
  }
  HMT_CHECK(!ec, "{}: cannot list the folder: {}", folder, ec.message());
  std::sort(files.begin(), files.end());
  return files;
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  HMT_CHECK(in.good(), "{}: cannot open for reading", path);
  std::ostringstream text;
  text << in.rdbuf();
  HMT_CHECK(!in.bad(), "{}: read failed", path);
  return std::move(text).str();
}

std::vector<std::pair<int64_t, int64_t>> fraction_ranges(int64_t units, const std::vector<double>& fractions) {
  std::vector<std::pair<int64_t, int64_t>> out;
  double cumulative = 0;
  int64_t begin = 0;
  for (size_t i = 0; i < fractions.size(); ++i) {
    cumulative += fractions[i];
    const int64_t end = i + 1 == fractions.size() ? units : std::min<int64_t>(units, std::llround(cumulative * units));
    out.emplace_back(begin, std::max(begin, end));
    begin = std::max(begin, end);
  }
  return out;
}

std::vector<SplitPlan> plan_single_source(const std::vector<std::string>& files, const std::string& root,
                                          const std::vector<std::string>& splits, const std::vector<double>& fractions,
                                          int64_t units) {
  std::vector<SplitPlan> plans;
  if (fractions.empty()) {
    HMT_CHECK(splits.size() <= 1,
              "data.splits lists {} splits for a one-file source: give data.split_fractions to cut it, or one name",
              splits.size());
    plans.push_back({splits.empty() ? "train" : splits[0], files, {}, root});
    return plans;
  }
  HMT_CHECK(fractions.size() == splits.size(), "data.split_fractions: {} fractions for {} names in data.splits",
            fractions.size(), splits.size());
  auto ranges = fraction_ranges(units, fractions);
  for (size_t i = 0; i < splits.size(); ++i)
    plans.push_back({splits[i],
                     files,
                     {},
                     root,
                     ranges[i].first,
                     ranges[i].second,
                     units > 0 ? static_cast<double>(ranges[i].second - ranges[i].first) / units : 0.0});
  return plans;
}

std::vector<std::string> standard_splits(const std::vector<std::string>& splits) {
  return splits.empty() ? std::vector<std::string>{"train", "validation", "test"} : splits;
}

}  // namespace hmt
