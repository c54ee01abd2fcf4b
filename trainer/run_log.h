#pragma once
// The run's human-readable log: each line goes to stderr and is appended to
// RUN_DIR/train.log. Only rank 0 keeps one (other ranks pass an empty path
// and stay silent unless `quiet` is false). A line that cannot be appended
// (a full disk) is cut off again and said once on stderr; the file then stays
// as it was, and the run goes on to the metrics or checkpoint write that
// fails on the same disk with an error.
#include <memory>
#include <string>

#include <fmt/format.h>

#include "core/append_file.h"

namespace hmt {

class RunLog {
 public:
  // `path` empty: no file. `echo` false: no stderr either.
  RunLog(const std::string& path, bool echo);
  RunLog(const RunLog&) = delete;
  RunLog& operator=(const RunLog&) = delete;

  void line(const std::string& text);
  template <typename... Args>
  void info(fmt::format_string<Args...> format, Args&&... args) {
    line(fmt::format(format, std::forward<Args>(args)...));
  }
  // Only into the file (the terminal shows a progress bar instead).
  void file_only(const std::string& text);
  bool echo() const { return echo_; }

 private:
  std::unique_ptr<AppendFile> file_;
  bool echo_ = false;
};

}  // namespace hmt
