#pragma once
// Source text must be valid UTF-8 for the tokenizers (their regexes run in
// UTF mode). Ill-formed sequences are replaced, not fatal: real corpora have
// a few, and the count is reported.
#include <cstdint>
#include <string>

namespace hmt {

// Replaces every ill-formed sequence (each maximal subpart, Unicode's
// recommended practice, as ICU's U8_NEXT finds them) by U+FFFD, in place;
// returns how many were replaced. Valid text is left untouched (no copy).
int64_t repair_utf8(std::string& text);

// True when the text has no character other than ASCII whitespace.
bool is_blank(const std::string& text);

}  // namespace hmt
