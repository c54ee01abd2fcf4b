// A full disk under `hmt train`, `hmt export` and `hmt eval` (prepare: its
// own test in tests/data/sources): each stops with an error that names the
// path and says "No space left on device", removes what it had half written,
// and leaves the outputs of earlier runs byte for byte as they were.
#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <string>

#include "tests/app/run_command.h"
#include "tests/app/trained_run.h"
#include "tests/test_paths.h"
#include "tests/tmpfs_disk.h"
#include "trainer/checkpoint.h"
#include "trainer/metrics.h"

namespace fs = std::filesystem;
using hmt::test::run_hmt;

namespace full_disk_test {

// Every file under `dir` (relative name -> bytes).
std::map<std::string, std::string> contents(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    if (entry.is_regular_file()) files[fs::relative(entry.path(), dir).string()] = hmt::test::read_text(entry.path());
  return files;
}

// Names under `dir` that a half-finished write leaves: staging directories
// and temporary files.
std::vector<std::string> leftovers(const fs::path& dir) {
  std::vector<std::string> found;
  if (!fs::exists(dir)) return found;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.find(".staging-") != std::string::npos || name.find(".partial-") != std::string::npos ||
        name.find(".tmp.") != std::string::npos)
      found.push_back(entry.path().string());
  }
  return found;
}

}  // namespace full_disk_test

TEST_CASE("full disk: train, export and eval stop with an error naming the path, earlier outputs intact",
          "[app][full_disk]") {
  using full_disk_test::contents;
  using full_disk_test::leftovers;
  const fs::path dir = hmt::test::temp_dir("full_disk");
  hmt::test::TmpfsDisk disk(dir / "disk", "4m");
  if (!disk.mounted()) {
    WARN("skipped: cannot mount a tmpfs here (not root?)");
    return;
  }
  // The earlier outputs, all on the small disk: a run, its export, an eval.
  auto t = hmt::test::trained_run("full_disk_run", /*lora=*/false, disk.path() / "run");
  const fs::path exported = disk.path() / "export", eval_out = disk.path() / "eval";
  REQUIRE(run_hmt("export " + t.run.string() + " --out " + exported.string()).exit_code == 0);
  const std::string eval_args = "eval " + exported.string() + " --data " + t.data.string() +
                                " --contexts 16 --windows 2 --batch 2 --mode hmt --out " + eval_out.string();
  REQUIRE(run_hmt(eval_args).exit_code == 0);
  const std::string newest = hmt::newest_valid_checkpoint(t.run.string());
  const auto checkpoints_before = contents(t.run / "checkpoints");
  const auto export_before = contents(exported), eval_before = contents(eval_out);
  const std::string metrics_before = hmt::test::read_text(t.run / "metrics.jsonl");

  // A second run of the same experiment on the same disk (a resume of the
  // first would be refused: its config differs once steps change).
  const fs::path run2 = disk.path() / "run2";
  const std::string train2 = "train " + t.experiment.string() + " runtime.threads=1 runtime.run_dir=" + run2.string();
  SECTION("train: a checkpoint that does not fit") {
    // Room for the run's config, log and metric rows, not for a checkpoint
    // (tens of KiB of weights and optimizer state).
    disk.fill(/*leave_free=*/16 << 10);
    auto trained = run_hmt(train2);
    INFO(trained.err);
    CHECK(trained.exit_code == 1);
    CHECK_THAT(trained.err, Catch::Contains((run2 / "checkpoints" / "stage1-step000002").string()) &&
                                Catch::Contains("checkpoint not written") &&
                                Catch::Contains("No space left on device"));
    CHECK(leftovers(run2).empty());
    CHECK(hmt::list_checkpoints(run2.string()).empty());
    CHECK_NOTHROW(hmt::read_metrics((run2 / "metrics.jsonl").string()));  // whole rows only
    // With room again the same command trains to the end.
    disk.unfill();
    auto again = run_hmt(train2);
    INFO(again.err);
    CHECK(again.exit_code == 0);
    CHECK(hmt::checkpoint_problem(hmt::newest_valid_checkpoint(run2.string())).empty());
  }
  SECTION("train: no room at all") {
    disk.fill();
    auto trained = run_hmt(train2);
    CHECK(trained.exit_code == 1);
    CHECK_THAT(trained.err, Catch::Contains(run2.string()) && Catch::Contains("No space left on device"));
    CHECK(leftovers(run2).empty());
    CHECK(hmt::list_checkpoints(run2.string()).empty());
  }
  // Whatever failed above, the first run is as it was.
  CHECK(contents(t.run / "checkpoints") == checkpoints_before);
  CHECK(hmt::test::read_text(t.run / "metrics.jsonl") == metrics_before);
  CHECK(hmt::checkpoint_problem(newest).empty());
  SECTION("export") {
    disk.fill();
    auto again = run_hmt("export " + t.run.string() + " --out " + exported.string() + " --force");
    CHECK(again.exit_code == 1);
    CHECK_THAT(again.err, Catch::Contains(exported.string() + ": export not written") &&
                              Catch::Contains("No space left on device"));
    CHECK(leftovers(disk.path()).empty());
    CHECK(contents(exported) == export_before);
  }
  SECTION("eval output") {
    disk.fill();
    auto again = run_hmt(eval_args);
    CHECK(again.exit_code == 1);
    CHECK_THAT(again.err, Catch::Contains(eval_out.string()) && Catch::Contains("No space left on device"));
    CHECK(leftovers(disk.path()).empty());
    CHECK(contents(eval_out) == eval_before);
  }
}
