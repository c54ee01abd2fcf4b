#include "trainer/dist/watchdog.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace hmt::dist {

Watchdog::Watchdog(int rank, int world, double timeout_seconds, Abort abort)
    : rank_(rank), world_(world), timeout_(timeout_seconds), abort_(std::move(abort)) {
  thread_ = std::thread([this] { loop(); });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

Watchdog::Ticket& Watchdog::Ticket::operator=(Ticket&& other) noexcept {
  if (this != &other) {
    done();
    owner_ = std::exchange(other.owner_, nullptr);
    id_ = other.id_;
  }
  return *this;
}

void Watchdog::Ticket::done() {
  if (owner_) std::exchange(owner_, nullptr)->release(id_);
}

Watchdog::Ticket Watchdog::watch(std::string operation) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::uint64_t id = next_id_++;
  active_.emplace(id, Entry{std::move(operation), Clock::now()});
  return Ticket(this, id);
}

void Watchdog::release(std::uint64_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  active_.erase(id);
}

std::string Watchdog::timeout_message(int rank, int world, const std::string& operation, double timeout_seconds) {
  return fmt::format(
      "rank {} of {}: {} did not finish within {:g} s (dist.timeout); another rank has died, hangs or is far "
      "behind; aborting the job",
      rank, world, operation, timeout_seconds);
}

void Watchdog::loop() {
  // Checking a few times per timeout keeps the overshoot small without a
  // busy thread; 1 s at most so that a long timeout still reacts promptly.
  auto period = std::min(std::chrono::duration<double>(1.0), timeout_ / 4);
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    wake_.wait_for(lock, period);
    if (stop_ || active_.empty()) continue;
    // Ids grow with time, so the first entry is the oldest operation.
    auto oldest = active_.begin();
    if (Clock::now() - oldest->second.start < timeout_) continue;
    std::string message = timeout_message(rank_, world_, oldest->second.operation, timeout_.count());
    active_.erase(oldest);
    lock.unlock();
    abort_(message);
    lock.lock();
  }
}

}  // namespace hmt::dist
