#include "trainer/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace hmt {

Progress::Progress(RunLog& log, std::string stage, int64_t first_step, int64_t total_steps, int64_t every,
                   bool terminal)
    : log_(log), stage_(std::move(stage)), first_step_(first_step), total_(total_steps), every_(every),
      terminal_(terminal && log.echo()), start_(std::chrono::steady_clock::now()) {}

std::string Progress::format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  auto s = static_cast<int64_t>(std::llround(seconds));
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

std::string Progress::bar(int64_t done, int64_t total, int width) {
  const int64_t filled = total > 0 ? std::min<int64_t>(width, done * width / total) : 0;
  return "[" + std::string(static_cast<size_t>(filled), '#') + std::string(static_cast<size_t>(width - filled), '.') +
         "]";
}

std::string Progress::plain_line(const ProgressUpdate& u, double eta_seconds) const {
  return fmt::format("{} step {}/{} loss {:.4f} lr {:.3g} {:.0f} tok/s eta {}{}", stage_, u.step, total_, u.loss, u.lr,
                     u.tokens_per_second, format_duration(eta_seconds), u.skipped ? " (skipped: non-finite)" : "");
}

void Progress::update(const ProgressUpdate& u) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const int64_t done_here = u.step - first_step_;
  const double eta = done_here > 0 ? elapsed / static_cast<double>(done_here) * static_cast<double>(total_ - u.step)
                                   : NAN;
  const bool plain_due = u.step % every_ == 0 || u.step == total_ || u.skipped;
  if (plain_due) log_.file_only(plain_line(u, eta));
  if (terminal_) {
    std::fprintf(stderr, "\r\033[2K%s %s %lld/%lld loss %.4f %.0f tok/s eta %s", stage_.c_str(),
                 bar(u.step, total_, /*width=*/30).c_str(), static_cast<long long>(u.step),
                 static_cast<long long>(total_), u.loss, u.tokens_per_second, format_duration(eta).c_str());
    std::fflush(stderr);
    drawn_ = true;
  } else if (plain_due && log_.echo()) {
    std::fprintf(stderr, "%s\n", plain_line(u, eta).c_str());
    std::fflush(stderr);
  }
}

void Progress::finish() {
  if (drawn_) std::fprintf(stderr, "\n");
  drawn_ = false;
}

bool stderr_is_terminal() {
  const char* term = std::getenv("TERM");
  return ::isatty(STDERR_FILENO) == 1 && !(term && std::strcmp(term, "dumb") == 0);
}

}  // namespace hmt
