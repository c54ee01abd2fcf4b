#pragma once
// Paths for tests: the repo's own fixtures, and the real data in
// ../shared/data (tests that need it SKIP when it is absent).
#include <cstdlib>
#include <filesystem>
#include <string>

namespace hmt::test {

inline std::filesystem::path source_dir() { return HMT_SOURCE_DIR; }
inline std::filesystem::path fixtures() { return source_dir() / "tests" / "fixtures"; }

inline std::filesystem::path shared_data() {
  if (const char* env = std::getenv("HMT_SHARED_DATA")) return env;
  return source_dir() / ".." / "shared" / "data";
}

inline bool have_shared(const std::string& relative) {
  return std::filesystem::exists(shared_data() / relative);
}

// A fresh empty directory under the build tree, unique per call.
std::filesystem::path temp_dir(const std::string& name);

}  // namespace hmt::test

// Skips the current Catch2 test (Catch2 v2 has no SKIP): it passes with a
// warning that says which shared file was missing.
#define HMT_REQUIRE_SHARED(relative)                                              \
  do {                                                                            \
    if (!::hmt::test::have_shared(relative)) {                                    \
      WARN("skipped: " << (::hmt::test::shared_data() / (relative)) << " absent"); \
      return;                                                                     \
    }                                                                             \
  } while (0)
