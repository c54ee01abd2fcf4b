#pragma once
// Small prepared-data files written through the real writer, for loader and
// store tests: document d of a split holds ids d * 1000 + i (i = position),
// so every id tells where it came from.
#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "data/store/token_store_writer.h"

namespace hmt::test {

// Row r of an int64 [B, T] tensor as a vector.
inline std::vector<int64_t> row(const torch::Tensor& ids, int64_t r) {
  auto t = ids[r].contiguous();
  return {t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel()};
}

inline std::vector<int32_t> numbered_document(int64_t doc, int64_t length) {
  std::vector<int32_t> ids(static_cast<size_t>(length));
  for (int64_t i = 0; i < length; ++i) ids[i] = static_cast<int32_t>(doc * 1000 + i);
  return ids;
}

inline StoreHeader fixture_header() {
  StoreHeader header;
  header.dataset = "text";
  header.tokenizer_fingerprint = "fixture-fingerprint";
  header.tokenizer_path = "fixture/tokenizer.json";
  header.vocab_size = 100000;
  header.eos_id = 99999;
  header.filler_id = 77777;
  header.inputs_sha256 = "fixture-inputs";
  return header;
}

// One language-model split of numbered documents with the given lengths.
inline std::string write_lm_store(const std::string& path, const std::vector<int64_t>& lengths,
                                  const std::string& split = "train") {
  TokenStoreWriter writer(path, fixture_header());
  SplitWriter out = writer.begin_split(split, /*qa=*/false, {{"a.txt", "00", 1}});
  for (size_t d = 0; d < lengths.size(); ++d)
    out.add_document("doc" + std::to_string(d), numbered_document(static_cast<int64_t>(d), lengths[d]));
  out.mark_units(static_cast<int64_t>(lengths.size()), {});
  out.finish();
  writer.finish({split});
  return path;
}

}  // namespace hmt::test
