#pragma once
// SHA-256 fingerprints (tokenizer files, source files of prepared data,
// config hashes), as lowercase hex. OpenSSL does the hashing.
#include <string>
#include <string_view>

namespace hmt {
std::string sha256_hex(std::string_view bytes);
// Streams the file; throws hmt::Error naming the path when it cannot be read.
std::string sha256_file(const std::string& path);
}  // namespace hmt
