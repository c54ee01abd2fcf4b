#pragma once
// Size and sha256 of the files of a directory that is written whole (a
// checkpoint, an export), so that a reader can tell a damaged file (a
// flipped bit, a truncation, another file copied over it) from a good one
// and name it.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace hmt {

// {"NAME": {"bytes": N, "sha256": HEX}, ...} for `names` inside `dir`.
nlohmann::ordered_json file_entries(const std::string& dir, const std::vector<std::string>& names);

// Checks every entry against the file in `dir`; throws hmt::Error naming the
// file and `source` (the manifest) at the first one that is missing or differs.
// An entry that is a bare integer (older checkpoints) is a size only.
void verify_file_entries(const std::string& dir, const nlohmann::json& entries, const std::string& source);

// The manifest of an export directory, written last into it.
constexpr const char* kManifestFile = "hmt_manifest.json";
void write_manifest(const std::string& dir, const std::vector<std::string>& names);
// Verifies `dir`'s manifest when it has one; a directory without (a plain HF
// model) passes.
void verify_manifest(const std::string& dir);

}  // namespace hmt
