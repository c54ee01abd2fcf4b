#pragma once
// A thread that ends the job when a collective does not finish in time.
// MPI_Allreduce waits forever for a rank that died or hangs, and NCCL has no
// timeout of its own; without this a broken rank turns into a silent hang of
// every other rank. Each collective holds a Ticket while it runs.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace hmt::dist {

class Watchdog {
 public:
  // `abort` gets the full message; in a real job it never returns (MPI_Abort),
  // in tests it may, and the operation is then reported only once.
  using Abort = std::function<void(const std::string& message)>;

  Watchdog(int rank, int world, double timeout_seconds, Abort abort);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // The operation is watched from construction until destruction (or done()).
  class Ticket {
   public:
    Ticket() = default;
    Ticket(Ticket&& other) noexcept : owner_(other.owner_), id_(other.id_) { other.owner_ = nullptr; }
    Ticket& operator=(Ticket&& other) noexcept;
    ~Ticket() { done(); }
    void done();

   private:
    friend class Watchdog;
    Ticket(Watchdog* owner, std::uint64_t id) : owner_(owner), id_(id) {}
    Watchdog* owner_ = nullptr;
    std::uint64_t id_ = 0;
  };

  Ticket watch(std::string operation);
  double timeout_seconds() const { return timeout_.count(); }

  // "rank R of W: OP did not finish within T s (dist.timeout) ..."
  static std::string timeout_message(int rank, int world, const std::string& operation, double timeout_seconds);

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    std::string operation;
    Clock::time_point start;
  };
  void release(std::uint64_t id);
  void loop();

  int rank_, world_;
  std::chrono::duration<double> timeout_;
  Abort abort_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::map<std::uint64_t, Entry> active_;
  std::uint64_t next_id_ = 1;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace hmt::dist
