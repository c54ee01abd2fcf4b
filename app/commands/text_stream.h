#pragma once
// Generated ids -> text as it becomes printable, for `hmt generate`'s
// streamed output. A token may end inside a UTF-8 character (byte-level BPE
// and byte-fallback pieces split them), so an incomplete trailing sequence
// (and a trailing U+FFFD, which a decoder may emit for one) is held back
// until later tokens complete it. Decoding runs over a short window with a
// few ids of context in front, so that tokenizers whose decoding depends on
// the neighbours (SentencePiece drops the leading space of a sequence) print
// what decoding the whole sequence would, and each token costs O(window).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "data/tokenizers/tokenizer.h"

namespace hmt::cli {

// Bytes at the end of `text` that start a UTF-8 sequence without all of its
// continuation bytes (0 to 3); 0 when the text ends on a whole character or
// on bytes that can never become one.
size_t incomplete_utf8_tail(std::string_view text);

class TextStream {
 public:
  // `context`: the ids before the first streamed one (the prompt's tail).
  TextStream(const Tokenizer& tokenizer, const std::vector<int32_t>& context);
  // Adds one id; returns the text that became printable.
  std::string push(int32_t id);
  // Everything still held back, as decoded, at the end of the stream.
  std::string finish();

 private:
  std::string window_text() const;  // decode(context + pending) minus decode(context)

  const Tokenizer& tokenizer_;
  std::vector<int32_t> context_, pending_;
  std::string context_text_;
  size_t printed_ = 0;  // bytes of window_text() already returned
};

}  // namespace hmt::cli
