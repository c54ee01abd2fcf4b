#pragma once
// Helpers for hmt prepare tests. The fixture tokenizer
// (tests/fixtures/data/bytes_tokenizer) maps every byte b to id b (a byte-level
// BPE without merges), so the expected ids of any text are its bytes and
// document boundaries can be checked byte for byte.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/sources/prepare.h"
#include "data/store/token_store.h"
#include "tests/test_paths.h"

namespace hmt::test {

inline std::string bytes_tokenizer() { return (fixtures() / "data" / "bytes_tokenizer" / "tokenizer.json").string(); }

inline PrepareOptions prepare_fixture_options(const std::string& dataset, const std::filesystem::path& source,
                                              const std::filesystem::path& out) {
  PrepareOptions o;
  o.dataset = dataset;
  o.source = source.string();
  o.tokenizer = bytes_tokenizer();
  o.out = out.string();
  o.threads = 2;
  o.progress = false;
  return o;
}

// A document read back as text (ids are bytes under the fixture tokenizer).
inline std::string document_text(const TokenSplit& split, int64_t doc) {
  std::string text;
  for (int32_t id : split.read_document(doc)) text.push_back(static_cast<char>(id));
  return text;
}

inline std::vector<int32_t> byte_ids(const std::string& text) {
  std::vector<int32_t> ids;
  for (unsigned char c : text) ids.push_back(c);
  return ids;
}

inline std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace hmt::test
