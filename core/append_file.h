#pragma once
// A file that grows by whole records (metrics rows, log lines): a record
// that cannot be written whole (a full disk) is cut off again, so the file
// always ends after the last record that was written completely. A raw
// descriptor, not stdio: a failed stdio flush keeps the bytes in its buffer
// and writes them at fclose, after the record was already cut off.
#include <cstdint>
#include <string>

namespace hmt {

class AppendFile {
 public:
  // Opens (creating) `path` for appending; errors name the file.
  explicit AppendFile(std::string path);
  ~AppendFile();
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;

  // 0, or the errno of the failed write (the file then ends as it did
  // before; *cut_back false if even that failed and a partial record remains).
  int append(const std::string& record, bool* cut_back = nullptr);
  int64_t bytes() const { return bytes_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
  int64_t bytes_ = 0;
};

}  // namespace hmt
