#pragma once
// Added tokens of a HF tokenizer (special tokens like <|endoftext|>, chat
// markers): found in the text before any normalization or pre-tokenization,
// as HF's AddedVocabulary does, so that a literal "<|im_start|>" in the text
// becomes its one id.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hmt {

struct AddedToken {
  int32_t id = 0;
  std::string content;
  bool special = false;
  bool normalized = false;   // matched in normalized text instead of raw text
  bool lstrip = false;       // swallows whitespace on its left
  bool rstrip = false;       // swallows whitespace on its right
  bool single_word = false;  // only matches when not inside a word
};

// Matches one set of added tokens (the raw or the normalized ones).
class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;
  explicit AddedTokenMatcher(std::vector<AddedToken> tokens);
  bool empty() const { return tokens_.empty(); }

  // Calls on_text(string_view) for the stretches between tokens and
  // on_token(id) for each token, in order (HF: leftmost-longest, then the
  // lstrip/rstrip/single_word rules).
  template <typename OnText, typename OnToken>
  void split(std::string_view text, OnText&& on_text, OnToken&& on_token) const;

 private:
  struct Match {
    size_t begin, end;
    int32_t id;
  };
  // Next token match at or after `from` whose stripped span starts at or
  // after `floor`; false when none is left.
  bool next_match(std::string_view text, size_t from, size_t floor, Match& match) const;

  std::vector<AddedToken> tokens_;                          // longest first
  std::array<std::vector<uint32_t>, 256> by_first_byte_{};  // indexes into tokens_
};

template <typename OnText, typename OnToken>
void AddedTokenMatcher::split(std::string_view text, OnText&& on_text, OnToken&& on_token) const {
  if (tokens_.empty()) {
    on_text(text);
    return;
  }
  size_t done = 0;
  Match match{};
  while (next_match(text, done, done, match)) {
    if (match.begin > done) on_text(text.substr(done, match.begin - done));
    on_token(match.id);
    done = match.end;
  }
  if (done < text.size() || text.empty()) on_text(text.substr(done));
}

}  // namespace hmt
