#pragma once
// Reads tests/fixtures/tokenizer/*.golden.json (made by
// scripts/golden/make_tokenizer_golden.js from a real peer) and checks a
// tokenizer against it.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "data/tokenizers/tokenizer.h"
#include "tests/test_paths.h"

namespace hmt::test {

inline std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

inline nlohmann::json read_golden(const std::string& name) {
  return nlohmann::json::parse(read_bytes(fixtures() / "tokenizer" / (name + ".golden.json")));
}

// The text of a case: inline, or a byte range of a shared file.
inline std::string golden_text(const nlohmann::json& c) {
  if (c.contains("text")) return c["text"].get<std::string>();
  std::string bytes = read_bytes(shared_data() / c["file"].get<std::string>());
  size_t begin = c["begin"], end = c["end"];
  REQUIRE(end <= bytes.size());
  return bytes.substr(begin, end - begin);
}

// Exact ids for every case, and decode(encode(x)) == x (or the peer's own
// decode where that differs from x, e.g. after NFC).
// check_decode=false where HF's decode is known to differ from ours (non-ASCII
// added tokens, which HF garbles); the caller checks decode itself then.
inline void check_golden_cases(const Tokenizer& tokenizer, const nlohmann::json& cases, bool check_decode = true) {
  for (const auto& c : cases) {
    std::string text = golden_text(c);
    auto expected = c["ids"].get<std::vector<int32_t>>();
    INFO("case " << c["name"].get<std::string>());
    auto ids = tokenizer.encode(text);
    REQUIRE(ids == expected);
    if (!check_decode) continue;
    std::string decoded = c.contains("decoded") ? c["decoded"].get<std::string>() : text;
    REQUIRE(tokenizer.decode(ids) == decoded);
  }
}

}  // namespace hmt::test
