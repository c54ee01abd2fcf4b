#pragma once
// Streams the members of a JSON file's top-level object one at a time, in
// file order (PubMedQA's PMID -> record files reach 0.5 GB: parsed whole
// they would take gigabytes, and ordered lookups would be quadratic).
#include <nlohmann/json.hpp>

#include <functional>
#include <string>

namespace hmt {

// Calls member(key, value) for each member. Malformed JSON is an hmt::Error
// "PATH:LINE:COLUMN: malformed JSON: ..."; a top-level value that is not an
// object is one too.
void for_each_json_member(const std::string& path,
                          const std::function<void(const std::string& key, nlohmann::json&& value)>& member);

// "PATH:LINE:COLUMN" of a byte offset (1-based line and column).
std::string json_location(const std::string& path, size_t byte);

}  // namespace hmt
