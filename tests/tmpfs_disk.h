#pragma once
// A small tmpfs mounted for one test: a full disk on demand. Mounting needs
// root (CI runs as root); elsewhere mounted() is false and the test skips.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace hmt::test {

class TmpfsDisk {
 public:
  TmpfsDisk(const std::filesystem::path& dir, const std::string& size) : dir_(dir) {
    std::filesystem::create_directories(dir);
    const std::string mount = "mount -t tmpfs -o size=" + size + " tmpfs '" + dir.string() + "' 2>/dev/null";
    mounted_ = std::system(mount.c_str()) == 0;
  }
  ~TmpfsDisk() {
    if (mounted_) std::system(("umount '" + dir_.string() + "'").c_str());
  }
  TmpfsDisk(const TmpfsDisk&) = delete;
  TmpfsDisk& operator=(const TmpfsDisk&) = delete;

  bool mounted() const { return mounted_; }
  const std::filesystem::path& path() const { return dir_; }

  // Writes a filler file until the disk refuses more, then gives back
  // `leave_free` bytes of it (tmpfs frees whole pages on truncate).
  void fill(int64_t leave_free = 0) {
    const std::string filler = (dir_ / ".filler").string();
    const int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return;
    const std::vector<char> block(1 << 16, 'x');
    int64_t size = 0;
    for (;;) {
      const ssize_t n = ::write(fd, block.data(), block.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      size += n;
    }
    if (leave_free > 0) {
      const int64_t keep = size > leave_free ? size - leave_free : 0;
      if (::ftruncate(fd, keep) != 0) {
        // The disk stays full: the test then sees an earlier failure than it expects.
      }
    }
    ::close(fd);
  }
  void unfill() { std::filesystem::remove(dir_ / ".filler"); }

 private:
  std::filesystem::path dir_;
  bool mounted_ = false;
};

}  // namespace hmt::test
