#include "data/sources/byte_progress.h"

#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace hmt {
namespace {

std::string duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<int64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, s / 60 % 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

}  // namespace

ByteProgress::ByteProgress(std::string label, uint64_t total_bytes, bool enabled)
    : label_(std::move(label)), total_(total_bytes), enabled_(enabled), terminal_(::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

ByteProgress::~ByteProgress() {
  // An interrupted bar still ends its line so that the error starts on a fresh one.
  if (enabled_ && terminal_ && !finished_) std::fputc('\n', stderr);
}

std::string ByteProgress::format(uint64_t done, uint64_t total, double seconds, int width) {
  const double fraction = total == 0 ? 1.0 : std::min(1.0, static_cast<double>(done) / static_cast<double>(total));
  const int filled = static_cast<int>(fraction * width);
  const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
  const double eta = rate > 0 ? static_cast<double>(total - std::min(done, total)) / rate : NAN;
  return fmt::format("[{}{}] {:5.1f}%  {:.1f} MB/s  ETA {}", std::string(filled, '#'), std::string(width - filled, '.'),
                     100 * fraction, rate / 1e6, duration(eta));
}

void ByteProgress::advance(uint64_t bytes) {
  done_ += bytes;
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  const double fraction = total_ == 0 ? 1.0 : static_cast<double>(done_) / static_cast<double>(total_);
  // Plain lines go to logs: none for jobs that finish within seconds, then every 10% or 30 s.
  const bool plain_due = std::chrono::duration<double>(now - start_).count() >= 5 &&
                         (since >= 30 || fraction - last_reported_fraction_ >= 0.1);
  if (terminal_ ? since >= 0.2 : plain_due) {
    last_draw_ = now;
    last_reported_fraction_ = fraction;
    draw(/*final=*/false);
  }
}

void ByteProgress::done() {
  if (!enabled_ || finished_) return;
  finished_ = true;
  draw(/*final=*/true);
}

void ByteProgress::draw(bool final) {
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (terminal_) {
    std::fprintf(stderr, "\r%s %s%s", label_.c_str(), format(done_, total_, seconds, /*width=*/30).c_str(),
                 final ? "\n" : "");
  } else {
    const double rate = seconds > 0 ? static_cast<double>(done_) / seconds / 1e6 : 0;
    std::fprintf(stderr, "%s: %.1f / %.1f MB (%.0f%%), %.1f MB/s, %s\n", label_.c_str(), done_ / 1e6, total_ / 1e6,
                 total_ == 0 ? 100.0 : 100.0 * static_cast<double>(done_) / static_cast<double>(total_), rate,
                 final
                     ? fmt::format("done in {}", duration(seconds)).c_str()
                     : fmt::format("ETA {}", duration(rate > 0 ? (total_ - std::min(done_, total_)) / 1e6 / rate : NAN))
                           .c_str());
  }
  std::fflush(stderr);
}

}  // namespace hmt
