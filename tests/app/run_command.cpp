#include "tests/app/run_command.h"

#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "tests/test_paths.h"

namespace hmt::test {

CommandResult run_hmt(const std::string& args) {
  auto dir = temp_dir("cmd");
  auto out_path = dir / "stdout", err_path = dir / "stderr";
  std::string command = std::string(HMT_EXECUTABLE) + " " + args + " > '" + out_path.string() + "' 2> '" +
                        err_path.string() + "' < /dev/null";
  int status = std::system(command.c_str());
  CommandResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  auto slurp = [](const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  };
  result.out = slurp(out_path);
  result.err = slurp(err_path);
  return result;
}

}  // namespace hmt::test
