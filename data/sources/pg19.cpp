#include "data/sources/pg19.h"

#define CSV_IO_NO_THREAD
// csv.h copies file names into a 255-byte buffer for its messages; ours name
// the path themselves, so its truncation warning is noise.
#pragma GCC diagnostic ignored "-Wstringop-truncation"
#include <libfccp/csv.h>

#include <filesystem>

#include "core/error.h"

namespace hmt {
namespace {
namespace fs = std::filesystem;
}  // namespace

std::vector<SplitPlan> plan_pg19(const std::string& root, const std::vector<std::string>& splits) {
  HMT_CHECK(fs::is_directory(root), "{}: no such PG-19 folder", root);
  const std::string metadata = (fs::path(root) / "metadata.csv").string();
  HMT_CHECK(fs::is_regular_file(metadata), "{}: missing (PG-19 lists its books there)", metadata);
  std::vector<SplitPlan> plans;
  for (const auto& split : standard_splits(splits)) {
    const auto folder = (fs::path(root) / split).string();
    HMT_CHECK(fs::is_directory(folder), "{}: missing split folder (data.splits lists `{}`)", folder, split);
    plans.push_back({split, list_files(folder, ".txt"), {metadata}, root});
  }
  return plans;
}

std::map<std::string, std::string> read_pg19_metadata(const std::string& path) {
  std::map<std::string, std::string> titles;
  try {
    io::CSVReader<4, io::trim_chars<>, io::double_quote_escape<',', '"'>> csv(path);
    csv.set_header("book_id", "short_book_title", "publication_date", "url");
    std::string id, title, date, url;
    while (csv.read_row(id, title, date, url)) {
      HMT_CHECK(!id.empty(), "{}:{}: empty book_id", path, csv.get_file_line());
      HMT_CHECK(titles.emplace(id, title).second, "{}:{}: book_id {} appears twice", path, csv.get_file_line(), id);
    }
  } catch (const io::error::base& e) {
    fail("{}: malformed CSV (expected book_id,short_book_title,publication_date,url): {}", path, e.what());
  }
  return titles;
}

void read_pg19(const SplitPlan& plan, const std::map<std::string, std::string>& metadata, const UnitSink& sink) {
  for (const auto& file : plan.files) {
    TextUnit book;
    book.name = fs::path(file).stem().string();
    book.origin = file;
    book.no_metadata = metadata.count(book.name) == 0;
    book.text = read_text_file(file);
    sink(std::move(book));
  }
}

}  // namespace hmt
