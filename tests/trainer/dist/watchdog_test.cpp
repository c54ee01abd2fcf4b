// The watchdog in one process: the abort callback stands in for MPI_Abort
// (the real thing under mpirun is in mpi_abort_test.cpp).
#include <catch2/catch.hpp>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "trainer/dist/watchdog.h"

namespace hmt::dist {
namespace {

struct Reports {
  std::mutex mutex;
  std::vector<std::string> messages;
  Watchdog::Abort callback() {
    return [this](const std::string& message) {
      std::lock_guard<std::mutex> lock(mutex);
      messages.push_back(message);
    };
  }
  std::vector<std::string> get() {
    std::lock_guard<std::mutex> lock(mutex);
    return messages;
  }
};

TEST_CASE("dist watchdog: an operation past dist.timeout is reported once, naming rank and operation",
          "[dist][watchdog]") {
  Reports reports;
  Watchdog watchdog(/*rank=*/1, /*world=*/2, /*timeout_seconds=*/0.05, reports.callback());
  auto ticket = watchdog.watch("all_reduce_sum_ of Float [4]");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto messages = reports.get();
  REQUIRE(messages.size() == 1);
  CHECK(messages[0] ==
        "rank 1 of 2: all_reduce_sum_ of Float [4] did not finish within 0.05 s (dist.timeout); another rank has "
        "died, hangs or is far behind; aborting the job");
}

TEST_CASE("dist watchdog: operations that finish in time are never reported", "[dist][watchdog]") {
  Reports reports;
  {
    Watchdog watchdog(/*rank=*/0, /*world=*/2, /*timeout_seconds=*/0.1, reports.callback());
    for (int i = 0; i < 20; ++i) {
      auto ticket = watchdog.watch("barrier");
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    auto moved = watchdog.watch("broadcast_");
    Watchdog::Ticket holder = std::move(moved);
    holder.done();
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  CHECK(reports.get().empty());
}

}  // namespace
}  // namespace hmt::dist
