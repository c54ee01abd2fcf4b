#pragma once
// SentencePiece .model files (Llama-2 and others), through the
// hmt_sentencepiece shim library (see plugins/sentencepiece_shim.cpp for why
// it is loaded at run time instead of linked).
#include <string>

#include "data/tokenizers/tokenizer.h"

namespace hmt {

class SentencePieceTokenizer : public Tokenizer {
 public:
  explicit SentencePieceTokenizer(const std::string& model_path);
  ~SentencePieceTokenizer() override;
  SentencePieceTokenizer(const SentencePieceTokenizer&) = delete;
  SentencePieceTokenizer& operator=(const SentencePieceTokenizer&) = delete;

  // sp.Encode(text): no bos/eos (HF LlamaTokenizer legacy, add_special_tokens=False).
  std::vector<int32_t> encode(std::string_view text) const override;
  std::string decode(const std::vector<int32_t>& ids) const override;
  int32_t vocab_size() const override { return vocab_size_; }
  std::string id_to_piece(int32_t id) const;
  std::optional<int32_t> unk_id() const { return unk_id_; }

 private:
  void* processor_ = nullptr;
  int32_t vocab_size_ = 0;
  std::optional<int32_t> unk_id_;
};

// Path of the shim library that will be loaded (for diagnostics).
std::string sentencepiece_shim_path();

}  // namespace hmt
