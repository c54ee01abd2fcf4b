#include "data/sources/utf8_repair.h"

#include <unicode/utf8.h>

#include <limits>

#include "core/error.h"

namespace hmt {
namespace {

// Index of the first ill-formed sequence, or length when there is none.
int32_t first_invalid(const uint8_t* s, int32_t length) {
  int32_t i = 0;
  while (i < length) {
    if (s[i] < 0x80) {  // the common case: ASCII
      ++i;
      continue;
    }
    const int32_t start = i;
    UChar32 c = 0;
    U8_NEXT(s, i, length, c);
    if (c < 0) return start;
  }
  return length;
}

}  // namespace

int64_t repair_utf8(std::string& text) {
  HMT_CHECK(text.size() < static_cast<size_t>(std::numeric_limits<int32_t>::max()),
            "a single document of {} bytes is over the 2 GiB this reader handles", text.size());
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const auto length = static_cast<int32_t>(text.size());
  int32_t i = first_invalid(s, length);
  if (i == length) return 0;
  static constexpr char kReplacement[] = "\xEF\xBF\xBD";
  std::string out(text, 0, static_cast<size_t>(i));
  int64_t replaced = 0;
  while (i < length) {
    const int32_t start = i;
    UChar32 c = 0;
    U8_NEXT(s, i, length, c);
    if (c < 0) {
      out.append(kReplacement, 3);
      ++replaced;
    } else {
      out.append(text, static_cast<size_t>(start), static_cast<size_t>(i - start));
    }
  }
  text = std::move(out);
  return replaced;
}

bool is_blank(const std::string& text) {
  for (char c : text)
    if (c != ' ' && c != '\n' && c != '\r' && c != '\t' && c != '\f' && c != '\v') return false;
  return true;
}

}  // namespace hmt
