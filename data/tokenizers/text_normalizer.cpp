#include "data/tokenizers/text_normalizer.h"

#include <unicode/normalizer2.h>
#include <unicode/unistr.h>

#include "core/error.h"

namespace hmt {

size_t utf8_sequence_length(std::string_view text, size_t pos) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  unsigned char c = byte(pos);
  if (c < 0x80) return 1;
  size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
  if (n == 0 || c > 0xF4 || pos + n > text.size()) return 0;
  for (size_t i = 1; i < n; ++i)
    if ((byte(pos + i) & 0xC0) != 0x80) return 0;
  // Overlong 3/4-byte forms, surrogates and code points above U+10FFFF.
  unsigned char c1 = byte(pos + 1);
  if (c == 0xE0 && c1 < 0xA0) return 0;
  if (c == 0xED && c1 >= 0xA0) return 0;
  if (c == 0xF0 && c1 < 0x90) return 0;
  if (c == 0xF4 && c1 >= 0x90) return 0;
  return n;
}

namespace {

const icu::Normalizer2& instance(UnicodeForm form) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n = nullptr;
  switch (form) {
    case UnicodeForm::NFC: n = icu::Normalizer2::getNFCInstance(status); break;
    case UnicodeForm::NFD: n = icu::Normalizer2::getNFDInstance(status); break;
    case UnicodeForm::NFKC: n = icu::Normalizer2::getNFKCInstance(status); break;
    case UnicodeForm::NFKD: n = icu::Normalizer2::getNFKDInstance(status); break;
  }
  HMT_CHECK(U_SUCCESS(status) && n, "ICU normalizer unavailable: {}", u_errorName(status));
  return *n;
}

// Normalizes one stretch of valid UTF-8 and appends it to `out`.
void normalize_valid(std::string_view text, UnicodeForm form, std::string& out) {
  icu::UnicodeString source = icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(),
                                                                            static_cast<int32_t>(text.size())));
  UErrorCode status = U_ZERO_ERROR;
  icu::UnicodeString result = instance(form).normalize(source, status);
  HMT_CHECK(U_SUCCESS(status), "ICU normalization failed: {}", u_errorName(status));
  result.toUTF8String(out);
}

}  // namespace

std::string_view TextNormalizer::apply(std::string_view text, std::string& storage) const {
  bool ascii = true;
  for (char c : text)
    if (static_cast<unsigned char>(c) >= 0x80) {
      ascii = false;
      break;
    }
  if (steps_.empty() || ascii) return text;
  std::string current(text), next;
  for (UnicodeForm form : steps_) {
    next.clear();
    // Normalize valid stretches; copy invalid bytes through untouched.
    size_t pos = 0, valid_begin = 0;
    while (pos < current.size()) {
      size_t n = utf8_sequence_length(current, pos);
      if (n > 0) {
        pos += n;
        continue;
      }
      normalize_valid(std::string_view(current).substr(valid_begin, pos - valid_begin), form, next);
      next.push_back(current[pos]);
      valid_begin = ++pos;
    }
    normalize_valid(std::string_view(current).substr(valid_begin), form, next);
    current.swap(next);
  }
  storage = std::move(current);
  return storage;
}

}  // namespace hmt
