#include "trainer/run_log.h"

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace hmt {

RunLog::RunLog(const std::string& path, bool echo) : echo_(echo) {
  if (path.empty()) return;
  file_ = std::fopen(path.c_str(), "a");
  HMT_CHECK(file_ != nullptr, "{}: cannot open the log for appending: {}", path, std::strerror(errno));
}

RunLog::~RunLog() {
  if (file_) std::fclose(file_);
}

void RunLog::file_only(const std::string& text) {
  if (!file_) return;
  std::fprintf(file_, "%s\n", text.c_str());
  std::fflush(file_);
}

void RunLog::line(const std::string& text) {
  if (echo_) {
    std::fprintf(stderr, "%s\n", text.c_str());
    std::fflush(stderr);
  }
  file_only(text);
}

}  // namespace hmt
