#pragma once
// Normalizers of HF tokenizer.json that byte-level BPE models use: NFC (Qwen2/3)
// through ICU, NFD/NFKC/NFKD likewise, and Sequence of them. Invalid UTF-8
// stays as it is: only the valid stretches around it are normalized.
#include <string>
#include <string_view>
#include <vector>

namespace hmt {

enum class UnicodeForm { NFC, NFD, NFKC, NFKD };

class TextNormalizer {
 public:
  TextNormalizer() = default;
  explicit TextNormalizer(std::vector<UnicodeForm> steps) : steps_(std::move(steps)) {}
  bool empty() const { return steps_.empty(); }
  // Returns `text` itself when nothing changes (pure ASCII never changes),
  // else the normalized bytes, stored in `storage`.
  std::string_view apply(std::string_view text, std::string& storage) const;

 private:
  std::vector<UnicodeForm> steps_;
};

// Length of the valid UTF-8 sequence starting at text[pos], or 0 when the
// bytes there are not valid UTF-8.
size_t utf8_sequence_length(std::string_view text, size_t pos);

}  // namespace hmt
