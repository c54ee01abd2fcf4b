#include "core/append_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace hmt {

AppendFile::AppendFile(std::string path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
  HMT_CHECK(fd_ >= 0, "{}: cannot open for appending: {}", path_, std::strerror(errno));
  struct stat st {};
  HMT_CHECK(::fstat(fd_, &st) == 0, "{}: cannot read its size: {}", path_, std::strerror(errno));
  bytes_ = static_cast<int64_t>(st.st_size);
}

AppendFile::~AppendFile() {
  if (fd_ >= 0) ::close(fd_);
}

int AppendFile::append(const std::string& record, bool* cut_back) {
  size_t done = 0;
  while (done < record.size()) {
    const ssize_t n = ::write(fd_, record.data() + done, record.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = n < 0 ? errno : ENOSPC;  // 0 bytes written: no room
      const bool cut = ::ftruncate(fd_, bytes_) == 0;
      if (cut_back) *cut_back = cut;
      return error;
    }
    done += static_cast<size_t>(n);
  }
  bytes_ += static_cast<int64_t>(record.size());
  return 0;
}

}  // namespace hmt
