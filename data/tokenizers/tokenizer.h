#pragma once
// Tokenizers: byte-level BPE (HF tokenizer.json or GPT-2 vocab.json +
// merges.txt) and SentencePiece (.model). Ids equal HuggingFace tokenizers'.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hmt {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Text -> ids, without special tokens added around it (HF
  // add_special_tokens=False). Special/added tokens written literally in the
  // text are recognised, as HF does.
  virtual std::vector<int32_t> encode(std::string_view text) const = 0;
  // Ids -> text; special tokens are kept in the output (HF skip_special_tokens=False).
  virtual std::string decode(const std::vector<int32_t>& ids) const = 0;
  virtual int32_t vocab_size() const = 0;

  std::optional<int32_t> bos_id() const { return bos_id_; }
  std::optional<int32_t> eos_id() const { return eos_id_; }
  std::optional<int32_t> pad_id() const { return pad_id_; }
  // sha256 of the tokenizer file(s): identifies the tokenizer in prepared data.
  const std::string& fingerprint() const { return fingerprint_; }
  const std::string& path() const { return path_; }

 protected:
  std::optional<int32_t> bos_id_, eos_id_, pad_id_;
  std::string fingerprint_;
  std::string path_;
};

// Picks the implementation from the path: a tokenizer.json, a vocab.json
// (merges.txt beside it), a .model file, or a directory holding one of them.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);

// The fingerprint `hmt prepare` records for the tokenizer at `path` (a file
// or a directory, as load_tokenizer takes it): what training and evaluation
// compare a prepared file against.
std::string tokenizer_fingerprint(const std::string& path);

struct SentencePieceTrainOptions {
  std::vector<std::string> inputs;  // text files
  std::string model_prefix;         // writes PREFIX.model and PREFIX.vocab
  int vocab_size = 8000;
  std::string model_type = "bpe";  // bpe | unigram
  double character_coverage = 1.0;
  bool byte_fallback = true;
  int64_t input_sentence_size = 2000000;
  int threads = 0;  // 0: runtime default
  // Lossless by default (as Llama-2's model): no NFKC, spaces and line
  // breaks kept, so decode(encode(x)) == x. "nmt_nfkc" is SentencePiece's own default.
  std::string normalization_rule_name = "identity";
  bool remove_extra_whitespaces = false;
};
void train_sentencepiece(const SentencePieceTrainOptions& options);

}  // namespace hmt
