#include "core/file_manifest.h"

#include <filesystem>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/json_file.h"
#include "core/sha256.h"

namespace hmt {
namespace fs = std::filesystem;

nlohmann::ordered_json file_entries(const std::string& dir, const std::vector<std::string>& names) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const auto& name : names) {
    const fs::path path = fs::path(dir) / name;
    out[name] = {{"bytes", static_cast<int64_t>(fs::file_size(path))}, {"sha256", sha256_file(path.string())}};
  }
  return out;
}

void verify_file_entries(const std::string& dir, const nlohmann::json& entries, const std::string& source) {
  HMT_CHECK(entries.is_object(), "{}: key \"files\" must be an object", source);
  for (const auto& [name, entry] : entries.items()) {
    const fs::path file = fs::path(dir) / name;
    HMT_CHECK(fs::exists(file), "{}: missing (listed in {})", file.string(), source);
    const bool hashed = entry.is_object();
    HMT_CHECK(hashed || entry.is_number_integer(), "{}: entry \"{}\" of \"files\" must be an object", source, name);
    if (hashed)
      HMT_CHECK(entry.contains("bytes") && entry["bytes"].is_number_integer() && entry.contains("sha256") &&
                    entry["sha256"].is_string(),
                "{}: entry \"{}\" needs \"bytes\" (integer) and \"sha256\" (string)", source, name);
    const int64_t size = hashed ? entry["bytes"].get<int64_t>() : entry.get<int64_t>();
    const auto actual = static_cast<int64_t>(fs::file_size(file));
    HMT_CHECK(actual == size, "{}: {} bytes, but {} recorded {}", file.string(), actual, source, size);
    if (!hashed) continue;
    const std::string recorded = entry["sha256"].get<std::string>();
    const std::string content = sha256_file(file.string());
    HMT_CHECK(content == recorded, "{}: content changed since it was written (sha256 {}, {} recorded {})",
              file.string(), content, source, recorded);
  }
}

void write_manifest(const std::string& dir, const std::vector<std::string>& names) {
  nlohmann::ordered_json json = {{"files", file_entries(dir, names)}};
  write_file_atomically((fs::path(dir) / kManifestFile).string(), json.dump(2) + "\n");
}

void verify_manifest(const std::string& dir) {
  const fs::path path = fs::path(dir) / kManifestFile;
  if (!fs::exists(path)) return;
  const nlohmann::json json = read_json_file(path.string());
  HMT_CHECK(json.is_object() && json.contains("files"), "{}: expected an object with \"files\"", path.string());
  verify_file_entries(dir, json["files"], path.string());
}

}  // namespace hmt
