#include "data/sources/text_corpus.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "data/sources/utf8_repair.h"

namespace hmt {
namespace {

namespace fs = std::filesystem;

bool is_jsonl(const std::string& path) { return fs::path(path).extension() == ".jsonl"; }

// Calls line(number, text) for every non-blank line of a JSONL file.
template <class F>
void for_each_line(const std::string& path, F&& line) {
  std::ifstream in(path, std::ios::binary);
  HMT_CHECK(in.good(), "{}: cannot open for reading", path);
  std::string text;
  for (int64_t number = 1; std::getline(in, text); ++number)
    if (!is_blank(text)) line(number, text);
  HMT_CHECK(!in.bad(), "{}: read failed", path);
}

std::string relative_name(const std::string& file, const std::string& root) {
  std::error_code ec;
  auto relative = fs::relative(file, root, ec);
  return ec || relative.empty() ? fs::path(file).filename().string() : relative.string();
}

}  // namespace

std::vector<SplitPlan> plan_text_corpus(const std::string& source, const std::vector<std::string>& splits,
                                        const std::vector<double>& fractions) {
  if (fs::is_directory(source)) {
    auto files = list_files(source, ".txt");
    HMT_CHECK(!files.empty(), "{}: folder has no .txt files", source);
    return plan_single_source(files, source, splits, fractions, static_cast<int64_t>(files.size()));
  }
  HMT_CHECK(fs::is_regular_file(source), "{}: no such text folder or file", source);
  const auto root = fs::path(source).parent_path().string();
  int64_t units = 1;
  if (is_jsonl(source)) {
    units = 0;
    for_each_line(source, [&](int64_t, std::string&) { ++units; });
  } else {
    HMT_CHECK(fractions.empty(), "{}: data.split_fractions needs several documents: a folder or a .jsonl file", source);
  }
  return plan_single_source({source}, root, splits, fractions, units);
}

void read_text_corpus(const SplitPlan& plan, const std::string& text_field, const UnitSink& sink) {
  int64_t unit = 0;
  for (const auto& file : plan.files) {
    if (!is_jsonl(file)) {
      if (plan.contains(unit++)) sink({relative_name(file, plan.root), file, read_text_file(file)});
      continue;
    }
    for_each_line(file, [&](int64_t number, std::string& line) {
      if (!plan.contains(unit++)) return;
      const std::string where = file + ":" + std::to_string(number);
      // The JSON parser refuses ill-formed UTF-8; repaired here, counted like any other.
      const int64_t replaced = repair_utf8(line);
      nlohmann::json record;
      try {
        record = nlohmann::json::parse(line);
      } catch (const nlohmann::json::parse_error& e) {
        fail("{}:{}: malformed JSON: {}", where, e.byte, e.what());
      }
      auto it = record.is_object() ? record.find(text_field) : record.end();
      HMT_CHECK(record.is_object() && it != record.end() && it->is_string(),
                "{}: expected an object with a string field `{}` (data.text_field)", where, text_field);
      TextUnit unit_text{relative_name(file, plan.root) + ":" + std::to_string(number), where, it->get<std::string>()};
      unit_text.invalid_utf8 = replaced;
      sink(std::move(unit_text));
    });
  }
}

}  // namespace hmt
