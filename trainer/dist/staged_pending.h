#pragma once
// The bookkeeping every in-flight all-reduce shares: it completes once, stops
// being watched then, and writes a staged copy (host or contiguous buffer)
// back into the caller's tensor.
#include <utility>

#include "trainer/dist/communicator.h"
#include "trainer/dist/watchdog.h"

namespace hmt::dist {

template <class Buffer>  // Buffer: has finish(), which writes the result back
class StagedPending : public PendingReduce {
 protected:
  StagedPending(Buffer buffer, Watchdog::Ticket ticket) : buffer_(std::move(buffer)), ticket_(std::move(ticket)) {}
  bool done() const { return done_; }
  void complete() {
    done_ = true;
    ticket_.done();
    buffer_.finish();
  }
  Buffer buffer_;

 private:
  Watchdog::Ticket ticket_;
  bool done_ = false;
};

}  // namespace hmt::dist
