#pragma once
// SIGINT / SIGTERM during training: the handler only records the signal; the
// loop finishes its step, writes a checkpoint and returns (ranks agree on
// stopping through the communicator, so a signal on any rank stops all at
// the same step). A second signal of either kind ends the process at once
// with the default action, for a run that is stuck.
#include <csignal>

namespace hmt {

class RunSignals {
 public:
  RunSignals();   // installs the handlers
  ~RunSignals();  // restores the previous ones
  RunSignals(const RunSignals&) = delete;
  RunSignals& operator=(const RunSignals&) = delete;

  bool stop_requested() const;
  int signal_number() const;  // 0 when none arrived

 private:
  struct sigaction previous_int_ {};
  struct sigaction previous_term_ {};
};

}  // namespace hmt
