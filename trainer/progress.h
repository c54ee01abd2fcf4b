#pragma once
// Progress of one stage: on a terminal a bar redrawn in place (loss,
// tokens/s, ETA); otherwise (a file, a pipe, mpirun's forwarding) a plain
// line every `every` steps. Either way the log file gets the plain lines.
#include <chrono>
#include <cstdint>
#include <string>

#include "trainer/run_log.h"

namespace hmt {

struct ProgressUpdate {
  int64_t step = 0;  // completed steps of the stage
  double loss = 0;
  double lr = 0;
  double tokens_per_second = 0;
  bool skipped = false;
};

class Progress {
 public:
  Progress(RunLog& log, std::string stage, int64_t first_step, int64_t total_steps, int64_t every, bool terminal);
  void update(const ProgressUpdate& u);
  // Ends the bar's line so that later log lines start on their own.
  void finish();

  // "1h02m", "3m05s", "42s".
  static std::string format_duration(double seconds);
  // "[#####.....]" of `width` cells for done/total.
  static std::string bar(int64_t done, int64_t total, int width);
  std::string plain_line(const ProgressUpdate& u, double eta_seconds) const;

 private:
  RunLog& log_;
  std::string stage_;
  int64_t first_step_, total_;
  int64_t every_;
  bool terminal_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
};

// Whether stderr is a terminal (and TERM is not "dumb").
bool stderr_is_terminal();

}  // namespace hmt
