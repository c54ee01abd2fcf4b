#include "data/tokenizers/pre_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>

#include "core/error.h"

namespace hmt {

const char* const kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

namespace {

// One match-data block per thread: encode() is const and may run on many
// threads at once, and allocating per call would cost more than the match.
pcre2_match_data* thread_match_data() {
  struct Holder {
    pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
    ~Holder() { pcre2_match_data_free(data); }
  };
  thread_local Holder holder;
  return holder.data;
}

pcre2_code* as_code(void* p) { return static_cast<pcre2_code*>(p); }

}  // namespace

// PCRE2's \s (with UCP) still counts U+180E MONGOLIAN VOWEL SEPARATOR as
// horizontal space; Unicode took it out of White_Space in 6.3 and so does
// the regex engine of HF tokenizers. So \s and \S are spelled out as the
// White_Space set, inside classes too. Classes, not groups: a repeated group
// with a lookahead costs JIT stack per character and fails on megabyte runs.
// A class that holds \S without being negated (not expected in a tokenizer
// pattern) keeps PCRE2's \S inside a group that corrects it.
std::string hf_whitespace(const std::string& pattern) {
  constexpr const char* kWhiteSpace =
      "\\t\\n\\x0B\\f\\r\\x20\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}";
  std::string out;
  size_t i = 0;
  while (i < pattern.size()) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char e = pattern[i + 1];
      if (e == 's') out += fmt::format("[{}]", kWhiteSpace);
      else if (e == 'S') out += fmt::format("[^{}]", kWhiteSpace);
      else out.append(pattern, i, 2);
      i += 2;
      continue;
    }
    if (c != '[') {
      out += c;
      ++i;
      continue;
    }
    // A character class: its members copied, \s spelled out.
    std::string cls = "[";
    ++i;
    const bool negated = i < pattern.size() && pattern[i] == '^';
    if (negated) cls += pattern[i++];
    if (i < pattern.size() && pattern[i] == ']') cls += pattern[i++];  // a leading ] is a member
    bool non_space = false;
    while (i < pattern.size() && pattern[i] != ']') {
      if (pattern[i] == '\\' && i + 1 < pattern.size()) {
        if (pattern[i + 1] == 's') cls += kWhiteSpace;
        else cls.append(pattern, i, 2);
        non_space = non_space || pattern[i + 1] == 'S';
        i += 2;
      } else if (pattern.compare(i, 2, "[:") == 0 && pattern.find(":]", i + 2) != std::string::npos) {
        const size_t end = pattern.find(":]", i + 2) + 2;
        cls.append(pattern, i, end - i);
        i = end;
      } else {
        cls += pattern[i++];
      }
    }
    if (i < pattern.size()) cls += pattern[i++];
    // HF's \S holds U+180E, PCRE2's does not: a class with \S gets it
    // back, or, negated, loses it.
    if (!non_space) out += cls;
    else if (negated) out += fmt::format("(?:(?!\\x{{180E}}){})", cls);
    else out += fmt::format("(?:{}|\\x{{180E}})", cls);
  }
  return out;
}

Regex::Regex(const std::string& pattern, bool literal) {
  // UCP: \s, \w and friends follow Unicode properties, as Oniguruma does in HF.
  uint32_t options = PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF;
  // PCRE2 refuses UCP together with LITERAL (it has no classes to affect).
  if (literal) options = (options & ~uint32_t{PCRE2_UCP}) | PCRE2_LITERAL;
  int error = 0;
  PCRE2_SIZE offset = 0;
  const std::string compiled = literal ? pattern : hf_whitespace(pattern);
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(compiled.data()), compiled.size(), options, &error,
                                   &offset, nullptr);
  if (!code) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof message);
    fail("regex '{}' does not compile at offset {}: {}", pattern, offset, reinterpret_cast<const char*>(message));
  }
  // JIT is an accelerator only: when it is unavailable the interpreter runs.
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  code_ = code;
}

Regex::~Regex() { pcre2_code_free(as_code(code_)); }

bool Regex::find(std::string_view text, size_t from, size_t& begin, size_t& end) const {
  pcre2_match_data* data = thread_match_data();
  int rc = pcre2_match(as_code(code_), reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), from, 0, data, nullptr);
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  if (rc < 0) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(rc, message, sizeof message);
    fail("regex match failed: {}", reinterpret_cast<const char*>(message));
  }
  const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(data);
  begin = ovector[0];
  end = ovector[1];
  return true;
}

SplitBehavior parse_split_behavior(const std::string& name) {
  if (name == "Removed") return SplitBehavior::Removed;
  if (name == "Isolated") return SplitBehavior::Isolated;
  if (name == "MergedWithPrevious") return SplitBehavior::MergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::MergedWithNext;
  if (name == "Contiguous") return SplitBehavior::Contiguous;
  fail("unsupported Split behavior '{}'", name);
}

namespace {

struct Segment {
  size_t begin, end;
  bool is_match;
};

// HF's NormalizedString::split: turns the match/gap segments covering a piece
// into output pieces according to the delimiter behaviour.
void emit_segments(std::string_view piece, const std::vector<Segment>& segments, SplitBehavior behavior, Pieces& out) {
  std::vector<Segment> kept;
  kept.reserve(segments.size());
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::Isolated: kept = segments; break;
    case SplitBehavior::Removed:
      for (const Segment& s : segments)
        if (!s.is_match) kept.push_back(s);
      break;
    case SplitBehavior::Contiguous:
      for (const Segment& s : segments) {
        if (!kept.empty() && s.is_match == previous_match) kept.back().end = s.end;
        else kept.push_back(s);
        previous_match = s.is_match;
      }
      break;
    case SplitBehavior::MergedWithPrevious:
      for (const Segment& s : segments) {
        if (s.is_match && !previous_match && !kept.empty()) kept.back().end = s.end;
        else kept.push_back(s);
        previous_match = s.is_match;
      }
      break;
    case SplitBehavior::MergedWithNext:
      for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
        if (it->is_match && !previous_match && !kept.empty()) kept.back().begin = it->begin;
        else kept.push_back(*it);
        previous_match = it->is_match;
      }
      std::reverse(kept.begin(), kept.end());
      break;
  }
  for (const Segment& s : kept)
    if (s.end > s.begin) out.views.push_back(piece.substr(s.begin, s.end - s.begin));
}

// Segments of `piece` for a matcher: matches and the gaps between them.
template <typename FindAll>
std::vector<Segment> segments_of(std::string_view piece, bool invert, FindAll&& find_all) {
  std::vector<Segment> segments;
  size_t previous = 0;
  find_all(piece, [&](size_t begin, size_t end) {
    if (begin != previous) segments.push_back({previous, begin, invert});
    segments.push_back({begin, end, !invert});
    previous = end;
  });
  if (previous != piece.size()) segments.push_back({previous, piece.size(), invert});
  return segments;
}

class SplitPreTokenizer : public PreTokenizer {
 public:
  SplitPreTokenizer(const std::string& pattern, bool literal, SplitBehavior behavior, bool invert)
      : regex_(pattern, literal), behavior_(behavior), invert_(invert) {}

  void split(const Pieces& in, Pieces& out) const override {
    for (std::string_view piece : in.views) {
      if (behavior_ == SplitBehavior::Isolated && !invert_) {
        // The hot path (Qwen2/3, Llama-3): no segment vector needed.
        size_t previous = 0;
        regex_.for_each_match(piece, [&](size_t begin, size_t end) {
          if (begin != previous) out.views.push_back(piece.substr(previous, begin - previous));
          out.views.push_back(piece.substr(begin, end - begin));
          previous = end;
        });
        if (previous != piece.size()) out.views.push_back(piece.substr(previous));
        continue;
      }
      auto segments = segments_of(piece, invert_, [&](std::string_view text, auto&& on_match) {
        regex_.for_each_match(text, on_match);
      });
      emit_segments(piece, segments, behavior_, out);
    }
  }

 private:
  Regex regex_;
  SplitBehavior behavior_;
  bool invert_;
};

class ByteLevelPreTokenizer : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex)
      : add_prefix_space_(add_prefix_space),
        regex_(use_regex ? std::make_unique<SplitPreTokenizer>(kGpt2Pattern, false, SplitBehavior::Isolated, false)
                         : nullptr) {}

  void split(const Pieces& in, Pieces& out) const override {
    const Pieces* source = &in;
    Pieces prefixed;
    if (add_prefix_space_) {
      // HF prepends a space to every piece that does not start with one.
      for (std::string_view piece : in.views) {
        if (!piece.empty() && piece.front() == ' ') {
          prefixed.views.push_back(piece);
        } else {
          prefixed.owned.push_back(std::make_unique<std::string>(" " + std::string(piece)));
          prefixed.views.push_back(*prefixed.owned.back());
        }
      }
      source = &prefixed;
    }
    if (regex_) {
      regex_->split(*source, out);
    } else {
      out.views.insert(out.views.end(), source->views.begin(), source->views.end());
    }
    // Views into `prefixed` must outlive this call: hand its strings over.
    prefixed.own_into(out);
  }
  bool is_byte_level() const override { return true; }

 private:
  bool add_prefix_space_;
  std::unique_ptr<SplitPreTokenizer> regex_;
};

class SequencePreTokenizer : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps) : steps_(std::move(steps)) {}

  void split(const Pieces& in, Pieces& out) const override {
    if (steps_.empty()) {
      out.views.insert(out.views.end(), in.views.begin(), in.views.end());
      return;
    }
    Pieces current, next;
    const Pieces* source = &in;
    for (size_t i = 0; i < steps_.size(); ++i) {
      bool last = i + 1 == steps_.size();
      Pieces& target = last ? out : next;
      steps_[i]->split(*source, target);
      // The new pieces may point into strings owned by `current`: keep them.
      current.own_into(target);
      if (!last) {
        std::swap(current, next);
        next.views.clear();
        source = &current;
      }
    }
  }
  bool is_byte_level() const override {
    for (const auto& step : steps_)
      if (step->is_byte_level()) return true;
    return false;
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

}  // namespace

std::unique_ptr<PreTokenizer> make_byte_level_pre_tokenizer(bool add_prefix_space, bool use_regex) {
  return std::make_unique<ByteLevelPreTokenizer>(add_prefix_space, use_regex);
}

std::unique_ptr<PreTokenizer> make_split_pre_tokenizer(const std::string& pattern, bool literal, SplitBehavior behavior,
                                                       bool invert) {
  return std::make_unique<SplitPreTokenizer>(pattern, literal, behavior, invert);
}

std::unique_ptr<PreTokenizer> make_digits_pre_tokenizer(bool individual_digits) {
  // HF Digits uses char::is_numeric, i.e. the Unicode N categories.
  return std::make_unique<SplitPreTokenizer>(R"(\p{N})", false,
                                             individual_digits ? SplitBehavior::Isolated : SplitBehavior::Contiguous,
                                             false);
}

std::unique_ptr<PreTokenizer> make_sequence_pre_tokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps) {
  return std::make_unique<SequencePreTokenizer>(std::move(steps));
}

}  // namespace hmt
