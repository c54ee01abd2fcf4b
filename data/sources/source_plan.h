#pragma once
// What `hmt prepare` reads for each split, as the dataset readers plan it
// (data/sources/wikitext.h, pg19.h, text_corpus.h, pubmedqa.h), and the unit of text
// they stream: one document candidate with the name the store keeps.
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace hmt {

struct SplitPlan {
  std::string name;
  std::vector<std::string> files;  // the split's source files, read in this order
  std::vector<std::string> extra;  // further inputs it depends on (PG-19 metadata.csv): checksummed only
  std::string root;                // stored source paths are relative to it
  // One-file sources cut by data.split_fractions: the split is units
  // [first_unit, end_unit) of `files` (end_unit < 0: to the end).
  int64_t first_unit = 0, end_unit = -1;
  double share = 1.0;  // the part of the files' bytes that this split reads (for progress)
  bool contains(int64_t unit) const { return unit >= first_unit && (end_unit < 0 || unit < end_unit); }
};

struct TextUnit {
  std::string name;    // stored as the document's name (book id, article title, file, line)
  std::string origin;  // where it came from, for warnings: "path" or "path:line"
  std::string text;
  bool no_metadata = false;  // PG-19: the book has no metadata.csv row
  int64_t invalid_utf8 = 0;  // ill-formed sequences the reader already replaced (JSONL lines)
};
using UnitSink = std::function<void(TextUnit&&)>;

// Regular files under `folder` (recursively) whose name ends with
// `extension`, sorted by path so that every run sees the same order.
std::vector<std::string> list_files(const std::string& folder, const std::string& extension);

std::string read_text_file(const std::string& path);

// The unit ranges of data.split_fractions over `units` units: boundaries at
// round(cumulative fraction * units) (like HF's "train[:75%]" slicing), the
// last one at `units`.
std::vector<std::pair<int64_t, int64_t>> fraction_ranges(int64_t units, const std::vector<double>& fractions);

// Plans for a one-file (or one-folder) source: one split named splits[0]
// (default "train") with every unit, or one split per name cut by fractions.
std::vector<SplitPlan> plan_single_source(const std::vector<std::string>& files, const std::string& root,
                                          const std::vector<std::string>& splits, const std::vector<double>& fractions,
                                          int64_t units);

// The standard splits of PG-19 / Wikitext when data.splits is empty.
std::vector<std::string> standard_splits(const std::vector<std::string>& splits);

}  // namespace hmt
