#pragma once
// Helpers for the config tests: fixture paths and inline experiment files
// whose line numbers the test can see.
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/test_paths.h"

namespace hmt::test {

inline std::string config_fixture(const std::string& relative) { return (fixtures() / "configs" / relative).string(); }

// Writes `text` to dir/name and returns the path as a string.
inline std::string write_config(const std::filesystem::path& dir, const std::string& name, const std::string& text) {
  auto path = dir / name;
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << text;
  return path.string();
}

}  // namespace hmt::test
