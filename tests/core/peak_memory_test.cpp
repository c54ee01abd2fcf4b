#include <catch2/catch.hpp>

#include <cstring>
#include <vector>

#include "core/peak_memory.h"

using Catch::Matchers::Contains;

TEST_CASE("peak_memory: status fields parse to bytes", "[peak_memory]") {
  const std::string status = "Name:\thmt\nVmPeak:\t  500 kB\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\n";
  CHECK(hmt::status_field_bytes(status, "VmHWM") == 2048 * 1024);
  CHECK(hmt::status_field_bytes(status, "VmRSS") == 1024 * 1024);
  REQUIRE_THROWS_WITH(hmt::status_field_bytes(status, "VmSwap"), Contains("VmSwap"));
  REQUIRE_THROWS_WITH(hmt::status_field_bytes("VmHWM:\tlots\n", "VmHWM"), Contains("VmHWM:\tlots"));
}

TEST_CASE("peak_memory: touching 64 MiB raises the peak, a reset brings it back down where allowed", "[peak_memory]") {
  constexpr size_t kBytes = size_t{64} << 20;
  auto before = hmt::resident_memory();
  CHECK(before.rss_bytes > 0);
  CHECK(before.peak_bytes >= before.rss_bytes);
  {
    std::vector<char> block(kBytes);
    std::memset(block.data(), 1, block.size());  // resident only once written
    auto during = hmt::resident_memory();
    CHECK(during.rss_bytes >= before.rss_bytes + static_cast<int64_t>(kBytes) * 9 / 10);
    CHECK(during.peak_bytes >= during.rss_bytes);
  }
  auto after = hmt::resident_memory();
  if (!hmt::reset_peak_memory()) {
    WARN("this kernel refuses /proc/self/clear_refs; peaks count from process start");
    return;
  }
  auto reset = hmt::resident_memory();
  // The block was freed (large allocations are unmapped), so the new peak is
  // the current RSS, well under the old one.
  CHECK(reset.peak_bytes < after.peak_bytes - static_cast<int64_t>(kBytes) / 2);
}
