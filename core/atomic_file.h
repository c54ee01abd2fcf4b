#pragma once
// A file written under a temporary name in the same directory and renamed
// over the final name only after fsync, so a crash or an exception never
// leaves a half-written file where a reader would find it.
#include <cstddef>
#include <string>

namespace hmt {

class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();  // removes the temporary file unless commit() succeeded
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t size);
  void write(const std::string& bytes) { write(bytes.data(), bytes.size()); }
  // fsync, close, rename onto the final path, fsync the directory.
  void commit();

 private:
  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  bool committed_ = false;
};

// The whole text at once (config.json and the like).
void write_file_atomically(const std::string& path, const std::string& bytes);

}  // namespace hmt
