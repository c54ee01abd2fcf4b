// The streamed text of `hmt generate` (app/commands/text_stream.h): every
// byte printed once, in order, with no incomplete UTF-8 character printed
// before the token that completes it.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "app/commands/text_stream.h"
#include "data/sources/utf8_repair.h"

namespace hmt::cli {
namespace {

// One token per byte, as a byte-level BPE's byte tokens; id 256 decodes to
// U+FFFD, standing in for a decoder that replaces a dangling byte.
class ByteTokenizer : public Tokenizer {
 public:
  std::vector<int32_t> encode(std::string_view text) const override {
    std::vector<int32_t> ids;
    for (unsigned char c : text) ids.push_back(c);
    return ids;
  }
  std::string decode(const std::vector<int32_t>& ids) const override {
    std::string text;
    for (int32_t id : ids) text += id == 256 ? std::string("\xEF\xBF\xBD") : std::string(1, static_cast<char>(id));
    return text;
  }
  int32_t vocab_size() const override { return 257; }
};

TEST_CASE("text stream: incomplete_utf8_tail finds a character cut short", "[generate][text_stream]") {
  CHECK(incomplete_utf8_tail("") == 0);
  CHECK(incomplete_utf8_tail("abc") == 0);
  CHECK(incomplete_utf8_tail("a\xE2\x82\xAC") == 0);  // whole euro sign
  CHECK(incomplete_utf8_tail("a\xE2\x82") == 2);
  CHECK(incomplete_utf8_tail("a\xE2") == 1);
  CHECK(incomplete_utf8_tail("\xC3") == 1);
  CHECK(incomplete_utf8_tail("\xC3\xA9") == 0);
  CHECK(incomplete_utf8_tail("\xF0\x9D\x84") == 3);  // 3 of the 4 bytes of U+1D11E
  CHECK(incomplete_utf8_tail("\xF0\x9D\x84\x9E") == 0);
  CHECK(incomplete_utf8_tail("a\x80\x80\x80") == 0);  // stray continuations never complete
  CHECK(incomplete_utf8_tail("a\xFF") == 0);
}

TEST_CASE("text stream: byte tokens print whole characters only, and everything in the end",
          "[generate][text_stream]") {
  ByteTokenizer tokenizer;
  const std::string text = "caf\xC3\xA9 \xE2\x82\xAC 12 \xF0\x9D\x84\x9E end of a line that is long enough to roll the "
                           "window over several times \xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC!";
  TextStream stream(tokenizer, tokenizer.encode("prompt "));
  std::string printed;
  for (int32_t id : tokenizer.encode(text)) {
    std::string piece = stream.push(id);
    INFO("after " << printed.size() << " bytes");
    CHECK(incomplete_utf8_tail(printed + piece) == 0);
    std::string copy = printed + piece;
    CHECK(repair_utf8(copy) == 0);
    printed += piece;
  }
  printed += stream.finish();
  CHECK(printed == text);
}

TEST_CASE("text stream: a trailing U+FFFD waits for the next token, a cut character ends the stream as is",
          "[generate][text_stream]") {
  ByteTokenizer tokenizer;
  TextStream stream(tokenizer, {});
  CHECK(stream.push('a') == "a");
  CHECK(stream.push(256) == "");
  CHECK(stream.push('b') == "\xEF\xBF\xBD"
                            "b");
  CHECK(stream.push(0xE2) == "");
  CHECK(stream.push(0x82) == "");
  CHECK(stream.finish() == "\xE2\x82");
}

}  // namespace
}  // namespace hmt::cli
