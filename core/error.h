#pragma once
// One exception type for every user-facing failure. Messages name the file,
// key or line at fault; main() prints them and exits non-zero.
#include <stdexcept>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace hmt {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// A failed call into a C library (MPI, NCCL, HDF5, CUDA) as the check
// macros of core/c_api_check.h report it, so that a caller can tell a failed
// write of its output (a full disk) from bad input.
class CApiError : public Error {
 public:
  CApiError(std::string library, const std::string& what) : Error(what), library_(std::move(library)) {}
  const std::string& library() const { return library_; }

 private:
  std::string library_;
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace hmt

// HMT_CHECK(cond, "fmt {}", args...): throws hmt::Error with the message when
// cond is false. For internal invariants and user input alike.
#define HMT_CHECK(cond, ...)               \
  do {                                     \
    if (!(cond)) ::hmt::fail(__VA_ARGS__); \
  } while (0)
