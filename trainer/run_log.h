#pragma once
// The run's human-readable log: each line goes to stderr and is appended to
// RUN_DIR/train.log. Only rank 0 keeps one (other ranks pass an empty path
// and stay silent unless `quiet` is false).
#include <cstdio>
#include <string>

#include <fmt/format.h>

namespace hmt {

class RunLog {
 public:
  // `path` empty: no file. `echo` false: no stderr either.
  RunLog(const std::string& path, bool echo);
  ~RunLog();
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
  std::FILE* file_ = nullptr;
  bool echo_ = false;
};

}  // namespace hmt
