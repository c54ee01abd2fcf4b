#include "trainer/metrics.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace hmt {

MetricsLog::MetricsLog(std::string path, int64_t keep_bytes) : path_(std::move(path)) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (keep_bytes >= 0 && fs::exists(path_)) {
    const auto size = static_cast<int64_t>(fs::file_size(path_, ec));
    HMT_CHECK(!ec, "{}: cannot read its size: {}", path_, ec.message());
    HMT_CHECK(size >= keep_bytes, "{}: has {} bytes, but the checkpoint recorded {}: the file was cut short", path_,
              size, keep_bytes);
    HMT_CHECK(::truncate(path_.c_str(), keep_bytes) == 0, "{}: cannot truncate: {}", path_, std::strerror(errno));
  }
  file_ = std::make_unique<AppendFile>(path_);
}

void MetricsLog::write(const nlohmann::ordered_json& row) {
  bool cut_back = true;
  if (const int error = file_->append(row.dump() + "\n", &cut_back))
    fail("{}: write failed: {}; {}", path_, std::strerror(error),
         cut_back ? "the rows before this one are intact" : "the last row may be cut short");
}

std::vector<nlohmann::json> read_metrics(const std::string& path) {
  std::ifstream in(path);
  HMT_CHECK(in.good(), "{}: cannot read", path);
  std::vector<nlohmann::json> rows;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    try {
      rows.push_back(nlohmann::json::parse(line));
    } catch (const nlohmann::json::parse_error& e) {
      fail("{}:{}: not a JSON row: {}", path, number, e.what());
    }
  }
  return rows;
}

}  // namespace hmt
