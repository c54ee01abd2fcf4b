#include "tests/test_paths.h"

#include <atomic>
#include <unistd.h>

namespace hmt::test {

std::filesystem::path temp_dir(const std::string& name) {
  static std::atomic<int> counter{0};
  auto dir = std::filesystem::path(HMT_BINARY_DIR) / "test_tmp" /
             (name + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace hmt::test
