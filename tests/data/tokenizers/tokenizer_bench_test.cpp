// Encode throughput on 1,000,000 bytes of English (PG-19 train books,
// concatenated in name order; scripts/bench/tokenizer_bench.sh builds the same
// text for the npm peers). Hidden tag: run with ./build/hmt_tests "[.bench]".
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>

#include "data/tokenizers/tokenizer.h"
#include "tests/data/tokenizers/tokenizer_golden.h"
#include "tests/test_paths.h"

namespace {

std::string english_megabyte() {
  std::vector<std::filesystem::path> books;
  for (const auto& entry : std::filesystem::directory_iterator(hmt::test::shared_data() / "pg19/train"))
    books.push_back(entry.path());
  std::sort(books.begin(), books.end());
  std::string text;
  for (const auto& book : books) text += hmt::test::read_bytes(book);
  REQUIRE(text.size() >= 1000000);
  return text.substr(0, 1000000);
}

}  // namespace

TEST_CASE("tokenizer bench: single-thread encode MB/s on 1 MB of English", "[.bench]") {
  HMT_REQUIRE_SHARED("pg19/train/2701.txt");
  std::string text = english_megabyte();
  for (const char* file : {"tokenizers/gpt2/tokenizer.json", "tokenizers/gpt2/vocab.json",
                           "holdout/tokenizers/qwen3/tokenizer.json", "tokenizers/llama2/tokenizer.model"}) {
    if (!hmt::test::have_shared(file)) continue;
    double best = 1e9;
    size_t count = 0;
    for (int run = 0; run < 3; ++run) {
      // A fresh tokenizer per run: its word cache starts empty (load not timed).
      auto tokenizer = hmt::load_tokenizer((hmt::test::shared_data() / file).string());
      auto start = std::chrono::steady_clock::now();
      auto ids = tokenizer->encode(text);
      double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      best = std::min(best, seconds);
      count = ids.size();
      REQUIRE(tokenizer->decode(ids) == text);
    }
    std::cout << file << ": " << count << " ids, best of 3 " << best * 1e3 << " ms, " << text.size() / best / 1e6
              << " MB/s\n";
  }
}
