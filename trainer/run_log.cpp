#include "trainer/run_log.h"

#include <cstdio>
#include <cstring>

namespace hmt {

RunLog::RunLog(const std::string& path, bool echo) : echo_(echo) {
  if (!path.empty()) file_ = std::make_unique<AppendFile>(path);
}

void RunLog::file_only(const std::string& text) {
  if (!file_) return;
  bool cut_back = true;
  if (const int error = file_->append(text + "\n", &cut_back)) {
    std::fprintf(stderr, "warning: %s: write failed: %s; the log file stops here%s\n", file_->path().c_str(),
                 std::strerror(error), cut_back ? "" : " (its last line may be cut short)");
    file_.reset();
  }
}

void RunLog::line(const std::string& text) {
  if (echo_) {
    std::fprintf(stderr, "%s\n", text.c_str());
    std::fflush(stderr);
  }
  file_only(text);
}

}  // namespace hmt
