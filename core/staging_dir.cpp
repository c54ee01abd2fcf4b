#include "core/staging_dir.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "core/error.h"

namespace hmt {
namespace fs = std::filesystem;

void fsync_directory(const fs::path& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

StagingDir::StagingDir(const std::string& pattern) {
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  if (::mkdtemp(name.data()) == nullptr)
    fail("{}: cannot create a staging directory: {}", pattern, std::strerror(errno));
  path_ = name.data();
}

StagingDir::~StagingDir() {
  std::error_code ec;
  if (!published_) fs::remove_all(path_, ec);
}

void StagingDir::publish(const fs::path& target) {
  std::error_code ec;
  fs::path old;
  if (fs::exists(target)) {
    old = target.parent_path() / (".replaced-" + target.filename().string());
    fs::remove_all(old, ec);
    fs::rename(target, old, ec);
    HMT_CHECK(!ec, "{}: cannot move the old directory aside: {}", target.string(), ec.message());
  }
  fs::rename(path_, target, ec);
  HMT_CHECK(!ec, "{}: cannot rename {} onto it: {}", target.string(), path_.string(), ec.message());
  published_ = true;
  fsync_directory(target.parent_path());
  if (!old.empty()) fs::remove_all(old, ec);
}

}  // namespace hmt
