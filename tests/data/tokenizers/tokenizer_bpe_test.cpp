// Byte-level BPE against ids made by HuggingFace tokenizers (npm
// `tokenizers`), see scripts/golden/make_tokenizer_golden.js.
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <thread>

#include "core/sha256.h"
#include "data/tokenizers/tokenizer.h"
#include "tests/data/tokenizers/tokenizer_golden.h"
#include "tests/test_paths.h"

using hmt::test::shared_data;

TEST_CASE("tokenizer: GPT-2 tokenizer.json gives HF's ids on real text and tricky strings", "[tokenizer]") {
  HMT_REQUIRE_SHARED("tokenizers/gpt2/tokenizer.json");
  auto golden = hmt::test::read_golden("gpt2");
  auto tokenizer = hmt::load_tokenizer((shared_data() / golden["tokenizer"].get<std::string>()).string());
  hmt::test::check_golden_cases(*tokenizer, golden["cases"]);
}

TEST_CASE("tokenizer: GPT-2 vocab.json + merges.txt gives the same ids as tokenizer.json", "[tokenizer]") {
  HMT_REQUIRE_SHARED("tokenizers/gpt2/vocab.json");
  auto golden = hmt::test::read_golden("gpt2");
  auto tokenizer = hmt::load_tokenizer((shared_data() / "tokenizers/gpt2/vocab.json").string());
  hmt::test::check_golden_cases(*tokenizer, golden["cases"]);
  REQUIRE(tokenizer->vocab_size() == 50257);
  REQUIRE(tokenizer->bos_id() == 50256);
  REQUIRE(tokenizer->eos_id() == 50256);
  REQUIRE_FALSE(tokenizer->pad_id());
}

TEST_CASE("tokenizer: Qwen3 tokenizer.json (NFC, Split regex, chat tokens) gives HF's ids", "[tokenizer]") {
  HMT_REQUIRE_SHARED("holdout/tokenizers/qwen3/tokenizer.json");
  auto golden = hmt::test::read_golden("qwen3");
  auto tokenizer = hmt::load_tokenizer((shared_data() / golden["tokenizer"].get<std::string>()).string());
  hmt::test::check_golden_cases(*tokenizer, golden["cases"]);
  // tokenizer_config.json beside it: no bos, eos <|im_end|>, pad <|endoftext|>.
  REQUIRE_FALSE(tokenizer->bos_id());
  REQUIRE(tokenizer->eos_id() == 151645);
  REQUIRE(tokenizer->pad_id() == 151643);
  REQUIRE(tokenizer->vocab_size() == 151669);
}

TEST_CASE("tokenizer: GPT-2 special ids and fingerprint from tokenizer.json", "[tokenizer]") {
  HMT_REQUIRE_SHARED("tokenizers/gpt2/tokenizer.json");
  std::string path = (shared_data() / "tokenizers/gpt2/tokenizer.json").string();
  auto tokenizer = hmt::load_tokenizer(path);
  REQUIRE(tokenizer->vocab_size() == 50257);
  REQUIRE(tokenizer->bos_id() == 50256);
  REQUIRE(tokenizer->eos_id() == 50256);
  REQUIRE_FALSE(tokenizer->pad_id());
  REQUIRE(tokenizer->fingerprint() == "f6ed3d307010c244c22aeffbde05f419cf277c23e64cf98b673cac5449cfeff5");
  REQUIRE(tokenizer->path() == path);
}

TEST_CASE("tokenizer: Split behaviours, Digits, prefix space and added-token flags match HF", "[tokenizer]") {
  HMT_REQUIRE_SHARED("tokenizers/gpt2/tokenizer.json");
  auto golden = hmt::test::read_golden("gpt2_variants");
  auto base = nlohmann::json::parse(hmt::test::read_bytes(shared_data() / golden["tokenizer"].get<std::string>()));
  auto dir = hmt::test::temp_dir("tokenizer_variants");
  for (const auto& variant : golden["variants"]) {
    std::string name = variant["name"];
    INFO("variant " << name);
    nlohmann::json patched = base;
    patched.merge_patch(variant["patch"]);
    auto path = dir / (name + ".json");
    std::ofstream(path) << patched.dump();
    auto tokenizer = hmt::load_tokenizer(path.string());
    bool non_ascii_added = name == "added_token_flags";
    hmt::test::check_golden_cases(*tokenizer, variant["cases"], !non_ascii_added);
    if (non_ascii_added) {
      // Added tokens decode to their content as written (see byte_level_bpe.cpp).
      for (const auto& token : variant["patch"]["added_tokens"])
        REQUIRE(tokenizer->decode({token["id"].get<int32_t>()}) == token["content"].get<std::string>());
      REQUIRE(tokenizer->decode(tokenizer->encode("x <sep> h\xC3\xA9llo")) == "x <sep>h\xC3\xA9llo");
    }
  }
}

TEST_CASE("tokenizer: invalid UTF-8 is encoded byte by byte and decoded back exactly", "[tokenizer]") {
  HMT_REQUIRE_SHARED("tokenizers/gpt2/tokenizer.json");
  HMT_REQUIRE_SHARED("holdout/tokenizers/qwen3/tokenizer.json");
  // A lone continuation byte, a truncated 3-byte sequence, an overlong '/',
  // a surrogate, 0xFF; around valid text including a composed accent.
  const std::string text = "ok \x80 caf\xC3\xA9 \xE6\x97 x \xC0\xAF \xED\xA0\x80 \xFF end";
  for (const char* file : {"tokenizers/gpt2/tokenizer.json", "holdout/tokenizers/qwen3/tokenizer.json"}) {
    INFO(file);
    auto tokenizer = hmt::load_tokenizer((shared_data() / file).string());
    auto ids = tokenizer->encode(text);
    REQUIRE(tokenizer->decode(ids) == text);
    // Valid text around the bad bytes tokenizes as it does on its own, and a
    // bad byte becomes its byte-level token.
    REQUIRE(ids.front() == tokenizer->encode("ok").front());
    auto ff = tokenizer->encode("\xFF");
    REQUIRE(ff.size() == 1);
    REQUIRE(std::find(ids.begin(), ids.end(), ff[0]) != ids.end());
    auto end = tokenizer->encode(" end");
    REQUIRE(std::equal(end.rbegin(), end.rend(), ids.rbegin()));
  }
}

TEST_CASE("tokenizer: a megabyte without a break encodes in O(n log n) and round-trips", "[tokenizer]") {
  HMT_REQUIRE_SHARED("tokenizers/gpt2/tokenizer.json");
  auto tokenizer = hmt::load_tokenizer((shared_data() / "tokenizers/gpt2/tokenizer.json").string());
  std::string text;
  for (int i = 0; text.size() < (1 << 20); ++i) text += "abcdefghij"[i % 10];
  auto ids = tokenizer->encode(text);  // one pre-token of 1 MiB
  REQUIRE(tokenizer->decode(ids) == text);
  REQUIRE(ids.size() < text.size() / 2);  // merged, not left as single bytes

  // Long runs (256 KiB) that single regex alternatives (\s+(?!\S), punctuation,
  // line breaks) must match whole, for both GPT-2's and Qwen3's patterns.
  std::vector<std::string> files = {"tokenizers/gpt2/tokenizer.json"};
  if (hmt::test::have_shared("holdout/tokenizers/qwen3/tokenizer.json"))
    files.push_back("holdout/tokenizers/qwen3/tokenizer.json");
  for (const auto& file : files) {
    auto t = hmt::load_tokenizer((shared_data() / file).string());
    for (const std::string& run : {std::string(1 << 18, ' ') + "x", std::string(1 << 18, '\n'),
                                   std::string(1 << 18, '!'), " " + std::string(1 << 18, '\t') + "y"}) {
      INFO(file << " run of " << int(run[1]));
      REQUIRE(t->decode(t->encode(run)) == run);
    }
  }
}

TEST_CASE("tokenizer: concurrent encode on many threads gives the same ids", "[tokenizer]") {
  HMT_REQUIRE_SHARED("pg19/train/1342.txt");
  HMT_REQUIRE_SHARED("tokenizers/gpt2/tokenizer.json");
  auto tokenizer = hmt::load_tokenizer((shared_data() / "tokenizers/gpt2/tokenizer.json").string());
  std::string text = hmt::test::read_bytes(shared_data() / "pg19/train/1342.txt").substr(0, 200000);
  auto expected = tokenizer->encode(text);
  std::vector<std::vector<int32_t>> results(4);
  std::vector<std::thread> threads;
  for (auto& result : results) threads.emplace_back([&, out = &result] { *out = tokenizer->encode(text); });
  for (auto& t : threads) t.join();
  for (const auto& result : results) REQUIRE(result == expected);
}
