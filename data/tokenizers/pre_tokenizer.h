#pragma once
// Pre-tokenizers of HF tokenizer.json (ByteLevel, Split, Digits, Sequence):
// they cut normalized text into pieces that BPE then encodes one at a time.
// Regexes run through PCRE2 (UTF + UCP, JIT) instead of HF's Oniguruma.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace hmt {

// PCRE2 pattern compiled once and JIT-compiled. Matching tolerates invalid
// UTF-8 (PCRE2_MATCH_INVALID_UTF): bad bytes never match, so they end up in
// the gaps between matches and are kept as they are.
// `pattern` with \s, \S and the classes that hold them made to treat U+180E
// as HF tokenizers does (not whitespace); Regex compiles what this returns.
std::string hf_whitespace(const std::string& pattern);

class Regex {
 public:
  // literal: the pattern is a plain string (HF Split {"String": ...}).
  Regex(const std::string& pattern, bool literal = false);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Calls on_match(begin, end) for every non-overlapping match, left to right.
  template <typename F>
  void for_each_match(std::string_view text, F&& on_match) const;

 private:
  // Returns false when there is no further match at or after `from`.
  bool find(std::string_view text, size_t from, size_t& begin, size_t& end) const;
  void* code_ = nullptr;  // pcre2_code_8*, kept opaque so the header needs no PCRE2
};

template <typename F>
void Regex::for_each_match(std::string_view text, F&& on_match) const {
  size_t from = 0, begin = 0, end = 0;
  while (from <= text.size() && find(text, from, begin, end)) {
    if (end == begin) {  // empty match: step over one byte so the loop ends
      from = end + 1;
      continue;
    }
    on_match(begin, end);
    from = end;
  }
}

// The pieces of one text. Views point into the text given to split() or
// into `owned` (pieces that a pre-tokenizer rewrote, e.g. a prefix space).
// Owned strings sit behind unique_ptr so that handing them from one Pieces
// to another never moves their bytes (a moved short std::string would).
struct Pieces {
  std::vector<std::string_view> views;
  std::vector<std::unique_ptr<std::string>> owned;
  void own_into(Pieces& other) {
    for (auto& s : owned) other.owned.push_back(std::move(s));
    owned.clear();
  }
  void clear() {
    views.clear();
    owned.clear();
  }
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Cuts every piece of `in` and appends the results to `out`.
  virtual void split(const Pieces& in, Pieces& out) const = 0;
  // True for ByteLevel (alone or inside a Sequence): the BPE vocabulary is
  // then written in GPT-2's byte-to-unicode alphabet.
  virtual bool is_byte_level() const { return false; }
};

enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };
SplitBehavior parse_split_behavior(const std::string& name);  // throws on unknown names

// GPT-2's pre-tokenization regex (also HF ByteLevel's use_regex=true).
extern const char* const kGpt2Pattern;

std::unique_ptr<PreTokenizer> make_byte_level_pre_tokenizer(bool add_prefix_space, bool use_regex);
std::unique_ptr<PreTokenizer> make_split_pre_tokenizer(const std::string& pattern, bool literal, SplitBehavior behavior,
                                                       bool invert);
std::unique_ptr<PreTokenizer> make_digits_pre_tokenizer(bool individual_digits);
std::unique_ptr<PreTokenizer> make_sequence_pre_tokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps);

}  // namespace hmt
