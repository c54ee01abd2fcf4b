// The regex layer under the pre-tokenizers: whitespace as HF tokenizers has
// it (Unicode White_Space), not as PCRE2's \s has it. The ids this gives on
// real tokenizers are checked against HF in tokenizer_bpe_test (the
// mongolian_vowel_separator golden case).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "data/tokenizers/pre_tokenizer.h"

namespace {

const std::string kSeparator = "\xE1\xA0\x8E";  // U+180E MONGOLIAN VOWEL SEPARATOR

std::vector<std::string> matches(const std::string& pattern, const std::string& text) {
  hmt::Regex regex(pattern);
  std::vector<std::string> out;
  regex.for_each_match(text, [&](size_t begin, size_t end) { out.push_back(text.substr(begin, end - begin)); });
  return out;
}

}  // namespace

TEST_CASE("pre-tokenizer regex: U+180E is not whitespace, as in HF tokenizers", "[tokenizer]") {
  using V = std::vector<std::string>;
  CHECK(matches(R"(\s+)", "a" + kSeparator + " b") == V{" "});
  CHECK(matches(R"(\S+)", "a" + kSeparator + " b") == V{"a" + kSeparator, "b"});
  CHECK(matches(R"([^\s\p{L}\p{N}]+)", "a" + kSeparator + "! b") == V{kSeparator + "!"});
  CHECK(matches(R"([\s]+)", kSeparator + " \t" + kSeparator) == V{" \t"});
  CHECK(matches(R"(\s+(?!\S))", "x  " + kSeparator) == V{" "});
  // Other Unicode spaces stay spaces; a class with both \s and \S stays whole.
  CHECK(matches(R"(\s+)", "a\xC2\xA0\xE3\x80\x80"
                          "b") == V{"\xC2\xA0\xE3\x80\x80"});
  CHECK(matches(R"([\s\S])", kSeparator).size() == 1);
  // The GPT-2 pattern: the separator is a piece of its own, a space before it joins it.
  CHECK(matches(hmt::kGpt2Pattern, "a" + kSeparator + "b " + kSeparator + "c") ==
        V{"a", kSeparator, "b", " " + kSeparator, "c"});
}

TEST_CASE("pre-tokenizer regex: the rewrite leaves escapes, a literal closing bracket and POSIX classes alone",
          "[tokenizer]") {
  CHECK(hmt::hf_whitespace(R"(a\d+[\]x][[:alpha:]]\\s)") == R"(a\d+[\]x][[:alpha:]]\\s)");
  CHECK(hmt::hf_whitespace(R"([]s])") == R"([]s])");
  const std::string space =
      R"(\t\n\x0B\f\r\x20\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";
  CHECK(hmt::hf_whitespace(R"(\s+(?!\S))") == "[" + space + "]+(?![^" + space + "])");
  CHECK(hmt::hf_whitespace(R"([^\s\p{L}])") == "[^" + space + R"(\p{L}])");
  CHECK(hmt::hf_whitespace(R"([^\S])") == R"((?:(?!\x{180E})[^\S]))");
}

TEST_CASE("pre-tokenizer regex: a negated non-space class leaves U+180E out, megabyte runs still match",
          "[tokenizer]") {
  using V = std::vector<std::string>;
  CHECK(matches(R"([^\S]+)", "a " + kSeparator + "b") == V{" "});
  // Classes, not groups: a run of a million spaces is one match, with no JIT stack error.
  const std::string run(1 << 20, ' ');
  CHECK(matches(R"(\s+(?!\S)|\s+)", run + "x") == V{run.substr(1), " "});
}
