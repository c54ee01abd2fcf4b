#pragma once
// Directories that appear whole or not at all: a staging directory next to
// the target is filled first and then renamed onto it (checkpoints, exports).
#include <filesystem>
#include <string>

namespace hmt {

// fsync of a directory, so that a rename inside it survives a crash. The
// empty path is the working directory. Best effort: a directory that cannot
// be opened is skipped (the rename itself already happened).
void fsync_directory(const std::filesystem::path& dir);

// A fresh directory made by mkdtemp from `pattern` (which ends in XXXXXX),
// removed with everything in it unless it was published.
class StagingDir {
 public:
  explicit StagingDir(const std::string& pattern);
  ~StagingDir();
  StagingDir(const StagingDir&) = delete;
  StagingDir& operator=(const StagingDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // Renames the staging directory onto `target`. An existing target is first
  // moved aside as a hidden sibling and removed only after the rename, so a
  // crash leaves the old or the new directory under the name, never neither.
  void publish(const std::filesystem::path& target);

 private:
  std::filesystem::path path_;
  bool published_ = false;
};

}  // namespace hmt
