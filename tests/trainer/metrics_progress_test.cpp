// metrics.jsonl truncation on resume, and the progress line formats.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include "tests/test_paths.h"
#include "tests/tmpfs_disk.h"
#include "trainer/metrics.h"
#include "trainer/progress.h"

TEST_CASE("metrics: rows append, and a resumed log drops the rows after the checkpoint", "[trainer][metrics]") {
  auto dir = hmt::test::temp_dir("metrics");
  const auto path = (dir / "metrics.jsonl").string();
  int64_t at_checkpoint = 0;
  {
    hmt::MetricsLog log(path, /*keep_bytes=*/0);
    log.write({{"step", 1}, {"loss", 2.5}});
    at_checkpoint = log.bytes();
    log.write({{"step", 2}, {"loss", 2.25}});
  }
  {
    hmt::MetricsLog resumed(path, at_checkpoint);
    CHECK(resumed.bytes() == at_checkpoint);
    resumed.write({{"step", 2}, {"loss", 2.0}});
  }
  auto rows = hmt::read_metrics(path);
  REQUIRE(rows.size() == 2);
  CHECK(rows[1]["loss"] == 2.0);
  CHECK_THROWS_WITH(hmt::MetricsLog(path, /*keep_bytes=*/100000), Catch::Contains("the file was cut short"));
}

TEST_CASE("metrics: a row that does not fit on the disk is an error naming the file, the rows before it intact",
          "[trainer][metrics]") {
  hmt::test::TmpfsDisk disk(hmt::test::temp_dir("metrics_full_disk") / "disk", "256k");
  if (!disk.mounted()) {
    WARN("skipped: cannot mount a tmpfs here (not root?)");
    return;
  }
  const auto path = (disk.path() / "metrics.jsonl").string();
  hmt::MetricsLog log(path);
  log.write({{"step", 1}, {"loss", 2.5}});
  const std::string before = hmt::test::read_text(path);
  disk.fill();
  // Larger than the free rest of the file's last page: part of it lands first.
  const std::string note(20000, 'n');
  CHECK_THROWS_WITH(log.write({{"step", 2}, {"note", note}}),
                    Catch::Contains(path) && Catch::Contains("No space left on device") &&
                        Catch::Contains("the rows before this one are intact"));
  CHECK(hmt::test::read_text(path) == before);
  CHECK(log.bytes() == static_cast<int64_t>(before.size()));
  // Room again: the log goes on after the last whole row.
  disk.unfill();
  log.write({{"step", 2}, {"loss", 2.25}});
  auto rows = hmt::read_metrics(path);
  REQUIRE(rows.size() == 2);
  CHECK(rows[1]["step"] == 2);
}

TEST_CASE("progress: durations, bar and the plain line", "[trainer][progress]") {
  CHECK(hmt::Progress::format_duration(42.4) == "42s");
  CHECK(hmt::Progress::format_duration(185) == "3m05s");
  CHECK(hmt::Progress::format_duration(3725) == "1h02m");
  CHECK(hmt::Progress::bar(/*done=*/3, /*total=*/10, /*width=*/10) == "[###.......]");
  hmt::RunLog log("", /*echo=*/false);
  hmt::Progress progress(log, "stage1", /*first_step=*/0, /*total_steps=*/200, /*every=*/10, /*terminal=*/false);
  hmt::ProgressUpdate u;
  u.step = 20;
  u.loss = 3.14159;
  u.lr = 1e-4;
  u.tokens_per_second = 1234.4;
  CHECK(progress.plain_line(u, /*eta_seconds=*/90) == "stage1 step 20/200 loss 3.1416 lr 0.0001 1234 tok/s eta 1m30s");
}
