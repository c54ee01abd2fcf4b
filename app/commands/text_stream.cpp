#include "app/commands/text_stream.h"

#include <algorithm>

namespace hmt::cli {
namespace {

// Ids kept in front of the window and the window length at which it rolls
// forward: enough context for any decoder we have, short enough that
// decoding the window per token stays cheap.
constexpr size_t kContextIds = 4;
constexpr size_t kRollIds = 32;
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

size_t sequence_length(unsigned char lead) {
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;  // ASCII, a continuation byte or a byte no character starts with
}

std::vector<int32_t> last_ids(const std::vector<int32_t>& a, const std::vector<int32_t>& b, size_t count) {
  std::vector<int32_t> all(a);
  all.insert(all.end(), b.begin(), b.end());
  if (all.size() > count) all.erase(all.begin(), all.end() - static_cast<std::ptrdiff_t>(count));
  return all;
}

}  // namespace

size_t incomplete_utf8_tail(std::string_view text) {
  // A lead byte among the last three whose sequence runs past the end.
  const size_t n = text.size();
  for (size_t back = 1; back <= std::min<size_t>(3, n); ++back) {
    const auto byte = static_cast<unsigned char>(text[n - back]);
    if ((byte & 0xC0) == 0x80) continue;  // continuation: keep looking for its lead
    const size_t length = sequence_length(byte);
    return length > back ? back : 0;
  }
  return 0;
}

TextStream::TextStream(const Tokenizer& tokenizer, const std::vector<int32_t>& context)
    : tokenizer_(tokenizer), context_(last_ids(context, {}, kContextIds)) {
  context_text_ = tokenizer_.decode(context_);
}

std::string TextStream::window_text() const {
  std::vector<int32_t> ids = context_;
  ids.insert(ids.end(), pending_.begin(), pending_.end());
  std::string text = tokenizer_.decode(ids);
  if (text.compare(0, context_text_.size(), context_text_) == 0) return text.substr(context_text_.size());
  return tokenizer_.decode(pending_);  // context decoded differently in company: the window alone
}

std::string TextStream::push(int32_t id) {
  pending_.push_back(id);
  const std::string text = window_text();
  size_t stable = text.size() - incomplete_utf8_tail(text);
  while (stable >= kReplacement.size() &&
         text.compare(stable - kReplacement.size(), kReplacement.size(), kReplacement) == 0)
    stable -= kReplacement.size();
  std::string out = stable > printed_ ? text.substr(printed_, stable - printed_) : std::string();
  printed_ = std::max(printed_, stable);
  if (printed_ == text.size() && pending_.size() >= kRollIds) {
    context_ = last_ids(context_, pending_, kContextIds);
    context_text_ = tokenizer_.decode(context_);
    pending_.clear();
    printed_ = 0;
  }
  return out;
}

std::string TextStream::finish() {
  const std::string text = window_text();
  std::string out = text.size() > printed_ ? text.substr(printed_) : std::string();
  printed_ = text.size();
  return out;
}

}  // namespace hmt::cli
