#include "data/tokenizers/added_vocabulary.h"

#include <algorithm>
#include <cctype>

namespace hmt {

namespace {

bool is_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
// HF's single_word test looks at the neighbouring character; ASCII letters,
// digits and '_' count as word characters here (non-ASCII ones do not).
bool is_word_byte(unsigned char c) { return std::isalnum(c) || c == '_'; }

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens) : tokens_(std::move(tokens)) {
  tokens_.erase(std::remove_if(tokens_.begin(), tokens_.end(), [](const AddedToken& t) { return t.content.empty(); }),
                tokens_.end());
  // Longest first, so that the first hit at a position is the longest one.
  std::stable_sort(tokens_.begin(), tokens_.end(),
                   [](const AddedToken& a, const AddedToken& b) { return a.content.size() > b.content.size(); });
  for (uint32_t i = 0; i < tokens_.size(); ++i)
    by_first_byte_[static_cast<unsigned char>(tokens_[i].content[0])].push_back(i);
}

bool AddedTokenMatcher::next_match(std::string_view text, size_t from, size_t floor, Match& match) const {
  for (size_t pos = from; pos < text.size(); ++pos) {
    const auto& candidates = by_first_byte_[static_cast<unsigned char>(text[pos])];
    for (uint32_t index : candidates) {
      const AddedToken& token = tokens_[index];
      if (text.compare(pos, token.content.size(), token.content) != 0) continue;
      size_t begin = pos, end = pos + token.content.size();
      if (token.single_word) {
        bool word_before = begin > 0 && is_word_byte(text[begin - 1]);
        bool word_after = end < text.size() && is_word_byte(text[end]);
        // HF skips this match entirely (no shorter token is tried here either).
        if (word_before || word_after) break;
      }
      if (token.lstrip) {
        while (begin > floor && is_space(text[begin - 1])) --begin;
      }
      if (token.rstrip) {
        while (end < text.size() && is_space(text[end])) ++end;
      }
      match = {begin, end, token.id};
      return true;
    }
  }
  return false;
}

}  // namespace hmt
