#pragma once
// Reading a whole file, and a JSON document from one, with errors that name
// the file (checkpoint state, export config, manifests). Header-only, so that
// it adds no source file to the unity batches.
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <string>

#include "core/error.h"

namespace hmt {

inline std::string read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  HMT_CHECK(in.good(), "{}: cannot read", path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline nlohmann::json read_json_file(const std::string& path) {
  const std::string text = read_file_bytes(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    fail("{}: not valid JSON: {}", path, e.what());
  }
}

}  // namespace hmt
