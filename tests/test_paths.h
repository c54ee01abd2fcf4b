#pragma once
// Paths for tests: the repo's own fixtures, and the real data in the folder
// HMT_SHARED_DATA names (tests that need it SKIP when it is absent); the device the
// device-aware tests use, and the guard of the CUDA-only ([cuda]) cases.
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "core/device.h"

namespace hmt::test {

inline std::filesystem::path source_dir() { return HMT_SOURCE_DIR; }
inline std::filesystem::path fixtures() { return source_dir() / "tests" / "fixtures"; }

inline std::filesystem::path shared_data() {
  if (const char* env = std::getenv("HMT_SHARED_DATA")) return env;
  return source_dir() / ".." / "shared" / "data";
}

inline bool have_shared(const std::string& relative) { return std::filesystem::exists(shared_data() / relative); }

// A fresh empty directory under the build tree, unique per call.
std::filesystem::path temp_dir(const std::string& name);

// Writes text to path (bytes as given, parent directories created) and
// returns the path as a string.
inline std::string write_text(const std::filesystem::path& path, const std::string& text) {
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
  return path.string();
}

// The whole file as bytes ("" when it cannot be read).
inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Flips one bit of the file's last byte in place: the size (and a header)
// stay, the content does not -- what only a content hash can see.
inline void flip_last_bit(const std::filesystem::path& path) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  file.seekg(-1, std::ios::end);
  char c = 0;
  file.get(c);
  file.seekp(-1, std::ios::end);
  file.put(static_cast<char>(c ^ 1));
}

// HMT_TEST_DEVICE=cuda (or cuda:N) puts the device-aware tests on that GPU
// when one is visible; unset, "cpu", or no GPU: the CPU.
inline torch::Device test_device() {
  const char* env = std::getenv("HMT_TEST_DEVICE");
  if (!env || std::string(env) == "cpu" || !cuda_present()) return torch::kCPU;
  return torch::Device(env);
}

}  // namespace hmt::test

// Skips the current Catch2 test (Catch2 v2 has no SKIP): it passes with a
// warning that says which shared file was missing.
#define HMT_REQUIRE_SHARED(relative)                                               \
  do {                                                                             \
    if (!::hmt::test::have_shared(relative)) {                                     \
      WARN("skipped: " << (::hmt::test::shared_data() / (relative)) << " absent"); \
      return;                                                                      \
    }                                                                              \
  } while (0)

// Skips a CUDA-only test where no CUDA device is visible (a CPU LibTorch
// included): it passes with the warning "no CUDA device".
#define HMT_REQUIRE_CUDA()                                      \
  do {                                                          \
    if (!::hmt::cuda_present()) {                               \
      WARN("skipped: no CUDA device (CPU LibTorch or no GPU)"); \
      return;                                                   \
    }                                                           \
  } while (0)
