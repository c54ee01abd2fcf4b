#pragma once
// Byte-level BPE (GPT-2, Llama-3, Qwen2/3): HF's pipeline of added-token
// split -> normalizer -> pre-tokenizer -> BPE merges, with ids equal to HF's.
// The vocabulary is converted from GPT-2's byte-to-unicode alphabet to raw
// bytes once at load, so encoding works on the input bytes directly.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "data/tokenizers/added_vocabulary.h"
#include "data/tokenizers/pre_tokenizer.h"
#include "data/tokenizers/text_normalizer.h"
#include "data/tokenizers/tokenizer.h"

namespace hmt {

// Everything a loader (tokenizer.json or vocab.json + merges.txt) reads.
struct BpeSpec {
  std::string source;  // the file, named in errors
  // Token strings as spelled in the file (byte-level alphabet) and their ids.
  std::vector<std::pair<std::string, int32_t>> vocab;
  std::vector<std::pair<std::string, std::string>> merges;  // in rank order
  std::vector<AddedToken> added_tokens;
  bool ignore_merges = false;  // a pre-token that is itself in the vocab is not merged
  bool byte_fallback = false;  // a byte missing from the vocab becomes <0xXX>
  std::optional<std::string> unk_token;
  TextNormalizer normalizer;
  std::unique_ptr<PreTokenizer> pre_tokenizer;
};

// GPT-2's bytes_to_unicode(): the printable stand-in of each byte, as UTF-8.
const std::string& byte_level_char(uint8_t byte);
// Inverse mapping of a whole token; nullopt when a character is outside the
// alphabet (then HF's decoder keeps the token's UTF-8 as it is).
std::optional<std::string> byte_level_to_bytes(const std::string& token);

class ByteLevelBpe : public Tokenizer {
 public:
  explicit ByteLevelBpe(BpeSpec spec);
  ~ByteLevelBpe() override;

  std::vector<int32_t> encode(std::string_view text) const override;
  std::string decode(const std::vector<int32_t>& ids) const override;
  int32_t vocab_size() const override { return vocab_size_; }

  // Id of a token as spelled in the file (byte-level alphabet) or of an
  // added token's content.
  std::optional<int32_t> token_to_id(const std::string& token) const;
  void set_special_ids(std::optional<int32_t> bos, std::optional<int32_t> eos, std::optional<int32_t> pad);
  void set_origin(std::string path, std::string fingerprint);

 private:
  class MergeTable;
  class WordCache;
  // BPE of one pre-token (raw bytes); appends its ids.
  void encode_word(std::string_view word, WordCache& words, std::vector<int32_t>& out) const;
  void encode_normalized(std::string_view text, std::vector<int32_t>& out) const;
  WordCache& cache() const;

  std::string source_;
  std::vector<std::string> id_to_bytes_;  // what decode writes for each id
  std::unordered_map<std::string, int32_t> bytes_to_id_;
  std::unordered_map<std::string, int32_t> spelling_to_id_;
  int32_t byte_to_id_[256];
  std::unique_ptr<MergeTable> merges_;
  AddedTokenMatcher raw_added_, normalized_added_;
  bool ignore_merges_;
  TextNormalizer normalizer_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  int32_t vocab_size_ = 0;
  uint64_t serial_;  // identifies this instance's thread-local word cache
};

}  // namespace hmt
