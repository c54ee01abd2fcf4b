#pragma once
// Files of whitespace-separated token ids and whole text files, as the CLI
// reads and writes them.
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace hmt::cli {
std::string read_file(const std::string& path);
// Errors name the file and the 1-based position of a bad entry.
std::vector<int32_t> read_ids(const std::string& path);
// One line, space-separated, newline-terminated.
void write_ids(FILE* out, const std::vector<int32_t>& ids);
}  // namespace hmt::cli
