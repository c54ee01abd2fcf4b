#include "trainer/run_signals.h"

#include <cstring>

namespace hmt {
namespace {

volatile std::sig_atomic_t g_signal = 0;

extern "C" void on_stop_signal(int number) {
  if (g_signal != 0) {
    std::signal(number, SIG_DFL);
    std::raise(number);
    return;
  }
  g_signal = number;
}

void install(int number, struct sigaction* previous) {
  struct sigaction action;
  std::memset(&action, 0, sizeof(action));
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  // SA_RESTART: a read or write in progress (a checkpoint file, an MPI
  // socket) resumes instead of failing with EINTR.
  action.sa_flags = SA_RESTART;
  sigaction(number, &action, previous);
}

}  // namespace

RunSignals::RunSignals() {
  g_signal = 0;
  install(SIGINT, &previous_int_);
  install(SIGTERM, &previous_term_);
}

RunSignals::~RunSignals() {
  sigaction(SIGINT, &previous_int_, nullptr);
  sigaction(SIGTERM, &previous_term_, nullptr);
}

bool RunSignals::stop_requested() const { return g_signal != 0; }
int RunSignals::signal_number() const { return g_signal; }

}  // namespace hmt
