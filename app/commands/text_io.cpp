#include "app/commands/text_io.h"

#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace hmt::cli {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open: {}", path, std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::vector<int32_t> read_ids(const std::string& path) {
  std::string text = read_file(path);
  std::vector<int32_t> ids;
  const char* p = text.data();
  const char* end = p + text.size();
  while (true) {
    while (p < end && std::isspace(static_cast<unsigned char>(*p))) ++p;
    if (p == end) break;
    int64_t value = 0;
    auto [next, ec] = std::from_chars(p, end, value);
    if (ec != std::errc() || (next < end && !std::isspace(static_cast<unsigned char>(*next))) || value < 0 ||
        value > INT32_MAX) {
      const char* word_end = p;
      while (word_end < end && !std::isspace(static_cast<unsigned char>(*word_end))) ++word_end;
      fail("{}: entry #{} ('{}') is not a token id (a non-negative integer)", path, ids.size() + 1,
           std::string(p, word_end));
    }
    ids.push_back(static_cast<int32_t>(value));
    p = next;
  }
  return ids;
}

void write_ids(FILE* out, const std::vector<int32_t>& ids) {
  fmt::memory_buffer buffer;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) buffer.push_back(' ');
    fmt::format_to(std::back_inserter(buffer), "{}", ids[i]);
  }
  buffer.push_back('\n');
  std::fwrite(buffer.data(), 1, buffer.size(), out);
}

}  // namespace hmt::cli
