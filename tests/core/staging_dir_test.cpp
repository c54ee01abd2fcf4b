// StagingDir: a directory appears whole under its name or not at all, and an
// unpublished one leaves nothing behind.
#include <catch2/catch.hpp>

#include <filesystem>

#include "core/staging_dir.h"
#include "tests/test_paths.h"

namespace fs = std::filesystem;

TEST_CASE("staging dir: publish replaces the target whole, an unpublished one is removed", "[core][staging]") {
  auto dir = hmt::test::temp_dir("staging_dir");
  const fs::path target = dir / "export";
  fs::path abandoned;
  {
    hmt::StagingDir staging((dir / ".export-XXXXXX").string());
    abandoned = staging.path();
    hmt::test::write_text(staging.path() / "a.txt", "half written");
    CHECK(fs::exists(abandoned));
  }
  CHECK_FALSE(fs::exists(abandoned));
  CHECK_FALSE(fs::exists(target));

  {
    hmt::StagingDir first((dir / ".export-XXXXXX").string());
    hmt::test::write_text(first.path() / "old.txt", "old");
    first.publish(target);
  }
  CHECK(hmt::test::read_text(target / "old.txt") == "old");
  {
    hmt::StagingDir second((dir / ".export-XXXXXX").string());
    hmt::test::write_text(second.path() / "new.txt", "new");
    second.publish(target);
  }
  CHECK(hmt::test::read_text(target / "new.txt") == "new");
  CHECK_FALSE(fs::exists(target / "old.txt"));  // replaced, not merged
  CHECK_FALSE(fs::exists(dir / ".replaced-export"));
  int leftovers = 0;
  for (const auto& e : fs::directory_iterator(dir)) leftovers += e.path().filename() != "export";
  CHECK(leftovers == 0);
  CHECK_THROWS_WITH(hmt::StagingDir((dir / "missing" / "x-XXXXXX").string()),
                    Catch::Contains("cannot create a staging directory"));
}
