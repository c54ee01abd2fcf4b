#pragma once
// Progress of a long job over a known number of bytes: on a terminal one
// bar redrawn in place with rate and ETA; otherwise (logs, CI) a plain line
// every 10% or 30 s, whichever comes first. Writes to stderr.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace hmt {

class ByteProgress {
 public:
  // enabled = false: silent (tests, benchmarks).
  ByteProgress(std::string label, uint64_t total_bytes, bool enabled = true);
  ~ByteProgress();
  void advance(uint64_t bytes);
  void done();  // the final line

  // "[#####.....]  45.0%  12.3 MB/s  ETA 1m05s" (exposed for tests).
  static std::string format(uint64_t done, uint64_t total, double seconds, int width);

 private:
  void draw(bool final);

  std::string label_;
  uint64_t total_, done_ = 0;
  bool enabled_, terminal_, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
  double last_reported_fraction_ = 0;
};

}  // namespace hmt
