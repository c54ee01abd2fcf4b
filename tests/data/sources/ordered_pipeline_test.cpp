#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "core/error.h"
#include "data/sources/ordered_pipeline.h"
#include "data/sources/byte_progress.h"

TEST_CASE("ordered pipeline: results come back in push order with bounded look-ahead", "[data][pipeline]") {
  for (int threads : {1, 2, 4}) {
    std::vector<int> consumed;
    std::atomic<int> running{0}, most{0};
    int pushed = 0;
    size_t most_ahead = 0;
    {
      hmt::OrderedPipeline<int, int> pipeline(
          threads, /*max_in_flight=*/3,
          [&](int& x) {
            int now = ++running;
            most = std::max(most.load(), now);
            // Later items finish first, so the order has to be restored.
            std::this_thread::sleep_for(std::chrono::microseconds(100 * (10 - x % 10)));
            --running;
            return x * x;
          },
          [&](int& y) { consumed.push_back(y); });
      for (int i = 0; i < 40; ++i) {
        pipeline.push(i);
        ++pushed;
        most_ahead = std::max(most_ahead, static_cast<size_t>(pushed) - consumed.size());
      }
      pipeline.finish();
    }
    INFO("threads " << threads);
    REQUIRE(consumed.size() == 40);
    for (int i = 0; i < 40; ++i) CHECK(consumed[i] == i * i);
    CHECK(most_ahead <= 3);
    CHECK(most.load() <= std::min(threads, 3));
  }
}

TEST_CASE("ordered pipeline: a worker's exception reaches the caller", "[data][pipeline]") {
  hmt::OrderedPipeline<int, int> pipeline(
      2, 4,
      [](int& x) {
        if (x == 5) hmt::fail("item {} is bad", x);
        return x;
      },
      [](int&) {});
  CHECK_THROWS_WITH(([&] {
                      for (int i = 0; i < 20; ++i) pipeline.push(i);
                      pipeline.finish();
                    }()),
                    "item 5 is bad");
}

TEST_CASE("progress: the bar shows the fraction, the rate and the ETA", "[data][progress]") {
  CHECK(hmt::ByteProgress::format(50'000'000, 100'000'000, 10.0, 10) == "[#####.....]  50.0%  5.0 MB/s  ETA 10s");
  CHECK(hmt::ByteProgress::format(0, 100, 0.0, 4) == "[....]   0.0%  0.0 MB/s  ETA ?");
  CHECK(hmt::ByteProgress::format(3'000'000, 3'000'000, 2.0, 4) == "[####] 100.0%  1.5 MB/s  ETA 0s");
  CHECK(hmt::ByteProgress::format(1'000'000, 361'000'000, 1.0, 2) == "[..]   0.3%  1.0 MB/s  ETA 6m00s");
}
