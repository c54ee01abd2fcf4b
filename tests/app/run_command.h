#pragma once
// Runs the built `hmt` executable for CLI tests: exit code, stdout, stderr.
#include <string>

namespace hmt::test {

struct CommandResult {
  int exit_code = -1;
  std::string out, err;
};

// `args` is appended to the executable path as shell words (quote as needed).
CommandResult run_hmt(const std::string& args);

}  // namespace hmt::test
