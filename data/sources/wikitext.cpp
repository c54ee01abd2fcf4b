#include "data/sources/wikitext.h"

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "data/sources/utf8_repair.h"

namespace hmt {
namespace {

namespace fs = std::filesystem;

// The file stem of a split: Wikitext calls validation "valid".
std::string file_split(const std::string& split) { return split == "validation" ? "valid" : split; }

std::optional<std::string> split_of_file(const std::string& filename) {
  for (const char* split : {"train", "valid", "test"})
    for (const char* ext : {".tokens", ".raw"})
      if (filename == std::string("wiki.") + split + ext) return std::string(split) == "valid" ? "validation" : split;
  return std::nullopt;
}

}  // namespace

std::vector<SplitPlan> plan_wikitext(const std::string& source, const std::vector<std::string>& splits) {
  if (fs::is_regular_file(source)) {
    const auto filename = fs::path(source).filename().string();
    std::string split;
    if (splits.size() == 1) {
      split = splits[0];
    } else {
      HMT_CHECK(splits.empty(), "{}: one Wikitext file is one split, but data.splits lists {}", source, splits.size());
      auto named = split_of_file(filename);
      HMT_CHECK(named.has_value(),
                "{}: cannot tell the split from the file name (expected wiki.{{train,valid,test}}.{{tokens,raw}}); "
                "give data.splits=[NAME]",
                source);
      split = *named;
    }
    return {{split, {source}, {}, fs::path(source).parent_path().string()}};
  }
  HMT_CHECK(fs::is_directory(source), "{}: no such Wikitext folder or file", source);
  std::vector<SplitPlan> plans;
  for (const auto& split : standard_splits(splits)) {
    const auto stem = (fs::path(source) / ("wiki." + file_split(split))).string();
    std::string file = fs::is_regular_file(stem + ".tokens") ? stem + ".tokens" : stem + ".raw";
    HMT_CHECK(fs::is_regular_file(file), "{}: missing split file {}.tokens (or .raw) for split `{}`", source, stem,
              split);
    plans.push_back({split, {file}, {}, source});
  }
  return plans;
}

std::optional<std::string> wikitext_title(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.size() < 7 || line.substr(0, 3) != " = " || line.substr(line.size() - 3) != " = ") return std::nullopt;
  if (line[3] == '=' || line[line.size() - 4] == '=') return std::nullopt;  // a section heading
  return std::string(line.substr(3, line.size() - 6));
}

void read_wikitext(const std::string& path, const UnitSink& sink) {
  std::ifstream in(path, std::ios::binary);
  HMT_CHECK(in.good(), "{}: cannot open for reading", path);
  TextUnit article;
  article.name = "(before the first title)";
  article.origin = path + ":1";
  bool started = false;  // a heading has been seen
  auto emit = [&] {
    if (started || !is_blank(article.text)) sink(std::move(article));
    article = TextUnit();
  };
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (auto title = wikitext_title(line)) {
      emit();
      started = true;
      article.name = *title;
      article.origin = path + ":" + std::to_string(number);
    }
    article.text += line;
    if (!in.eof()) article.text += '\n';  // getline stopped at a newline, not at the end of the file
  }
  HMT_CHECK(!in.bad(), "{}: read failed", path);
  emit();
}

}  // namespace hmt
