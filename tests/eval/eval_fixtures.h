#pragma once
// Prepared token files with given documents (ids below the tiny models'
// vocabulary) for the evaluation tests, and a reference window reader that
// concatenates the documents by hand (independent of eval/token_stream).
#include <cstdint>
#include <string>
#include <vector>

#include "data/store/token_store_writer.h"

namespace hmt::test {

inline std::vector<std::vector<int32_t>> pattern_documents(const std::vector<int64_t>& lengths, int32_t vocab,
                                                           uint32_t seed = 99) {
  std::vector<std::vector<int32_t>> docs;
  uint32_t lcg = seed;
  for (int64_t length : lengths) {
    std::vector<int32_t> ids;
    for (int64_t t = 0; t < length; ++t) {
      lcg = lcg * 1664525u + 1013904223u;
      ids.push_back(static_cast<int32_t>((lcg >> 16) % static_cast<uint32_t>(vocab)));
    }
    docs.push_back(ids);
  }
  return docs;
}

inline std::string write_documents_store(const std::string& path, const std::vector<std::vector<int32_t>>& docs,
                                         int64_t vocab, const std::string& split = "test",
                                         const std::string& fingerprint = "eval-fixture") {
  StoreHeader header;
  header.dataset = "text";
  header.tokenizer_fingerprint = fingerprint;
  header.vocab_size = vocab;
  header.filler_id = 1;
  header.inputs_sha256 = "eval-fixture";
  TokenStoreWriter writer(path, header);
  SplitWriter out = writer.begin_split(split, /*qa=*/false, {{"fixture.txt", "00", 1}});
  for (size_t d = 0; d < docs.size(); ++d) out.add_document("doc" + std::to_string(d), docs[d]);
  out.mark_units(static_cast<int64_t>(docs.size()), {});
  out.finish();
  writer.finish({split});
  return path;
}

inline std::vector<int64_t> concatenated(const std::vector<std::vector<int32_t>>& docs) {
  std::vector<int64_t> out;
  for (const auto& d : docs) out.insert(out.end(), d.begin(), d.end());
  return out;
}

}  // namespace hmt::test
