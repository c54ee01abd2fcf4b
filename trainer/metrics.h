#pragma once
// RUN_DIR/metrics.jsonl: one JSON object per line, a training row per
// optimizer step and a validation row per validation. Rows are flushed as
// they are written; a checkpoint records the file's size so that a resumed
// run first cuts off the rows written after that checkpoint and then
// appends the same rows an uninterrupted run would have written. A row that
// cannot be written whole (a full disk) is an error naming the file, which
// still ends in a whole row (core/append_file.h).
#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/append_file.h"

namespace hmt {

class MetricsLog {
 public:
  // Opens `path` for appending, first truncating it to `keep_bytes` when
  // keep_bytes >= 0 (resume); -1 keeps the whole file. Errors name the file.
  explicit MetricsLog(std::string path, int64_t keep_bytes = -1);
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  void write(const nlohmann::ordered_json& row);
  int64_t bytes() const { return file_->bytes(); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::unique_ptr<AppendFile> file_;
};

// Every row of a metrics.jsonl file; errors name the file and line.
std::vector<nlohmann::json> read_metrics(const std::string& path);

}  // namespace hmt
