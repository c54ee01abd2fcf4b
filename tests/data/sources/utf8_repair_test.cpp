#include <catch2/catch.hpp>

#include "data/sources/utf8_repair.h"

namespace {
std::string repaired(std::string text, int64_t expected_count) {
  CHECK(hmt::repair_utf8(text) == expected_count);
  return text;
}
const std::string kFffd = "\xEF\xBF\xBD";
}  // namespace

// Expected results follow the Unicode standard's "U+FFFD substitution of
// maximal subparts" (Unicode 15, section 3.9, table 3-8), the same as WHATWG's decoder.
TEST_CASE("utf8 repair: each maximal ill-formed subpart becomes one U+FFFD", "[data][utf8]") {
  CHECK(repaired("plain ascii \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", 0) ==
        "plain ascii \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
  CHECK(repaired("a\xFF"
                 "b",
                 1) == "a" + kFffd + "b");
  CHECK(repaired("\xC0\x80", 2) == kFffd + kFffd);              // C0 never leads: each byte alone
  CHECK(repaired("x\xE2\x82 y", 1) == "x" + kFffd + " y");      // a truncated 3-byte sequence is one subpart
  CHECK(repaired("\xED\xA0\x80", 3) == kFffd + kFffd + kFffd);  // a surrogate: ED allows only 80..9F next
  CHECK(repaired("end\xF0\x9F\x98", 1) == "end" + kFffd);       // truncated at the end of the text
  CHECK(repaired("\x80\x80", 2) == kFffd + kFffd);              // lone continuation bytes
}

TEST_CASE("utf8 repair: blank means ASCII whitespace only", "[data][utf8]") {
  CHECK(hmt::is_blank(""));
  CHECK(hmt::is_blank(" \n\t\r\n"));
  CHECK(!hmt::is_blank(" . "));
  CHECK(!hmt::is_blank("\xC2\xA0"));  // a no-break space is text
}
