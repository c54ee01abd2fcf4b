// load_tokenizer: which file a path picks, and errors that name the file.
#include <catch2/catch.hpp>

#include <filesystem>

#include "core/error.h"
#include "data/tokenizers/tokenizer.h"
#include "tests/data/tokenizers/tokenizer_golden.h"
#include "tests/test_paths.h"

namespace fs = std::filesystem;
using Catch::Contains;
using hmt::test::shared_data;
using hmt::test::write_text;

TEST_CASE("tokenizer: a directory loads its tokenizer.json, else vocab.json, else a .model", "[tokenizer]") {
  HMT_REQUIRE_SHARED("tokenizers/gpt2/tokenizer.json");
  HMT_REQUIRE_SHARED("tokenizers/llama2/tokenizer.model");
  auto gpt2_dir = shared_data() / "tokenizers/gpt2";
  // Both tokenizer.json and vocab.json are there: tokenizer.json wins.
  REQUIRE(hmt::load_tokenizer(gpt2_dir.string())->path() == (gpt2_dir / "tokenizer.json").string());

  auto dir = hmt::test::temp_dir("tokenizer_dispatch");
  fs::copy_file(gpt2_dir / "vocab.json", dir / "vocab.json");
  fs::copy_file(gpt2_dir / "merges.txt", dir / "merges.txt");
  auto from_vocab = hmt::load_tokenizer(dir.string());
  REQUIRE(from_vocab->path() == (dir / "vocab.json").string());
  REQUIRE(from_vocab->encode("Hello world") == std::vector<int32_t>{15496, 995});

  auto llama_dir = shared_data() / "tokenizers/llama2";
  auto llama = hmt::load_tokenizer(llama_dir.string());
  REQUIRE(llama->path() == (llama_dir / "tokenizer.model").string());
  REQUIRE(llama->vocab_size() == 32000);
}

TEST_CASE("tokenizer: a HF model folder (holdout fake_gpt2) takes specials from tokenizer_config.json", "[tokenizer]") {
  HMT_REQUIRE_SHARED("holdout/models/fake_gpt2/tokenizer_config.json");
  HMT_REQUIRE_SHARED("holdout/tokenizers/sentencepiece_test/test_model.model");
  auto dir = shared_data() / "holdout/models/fake_gpt2";
  auto golden = hmt::test::read_golden("gpt2");
  // Its vocab.json is written differently from GPT-2's encoder.json but maps
  // the same tokens: both loaders must give HF's GPT-2 ids.
  for (auto path : {dir, dir / "vocab.json"}) {
    INFO(path);
    auto tokenizer = hmt::load_tokenizer(path.string());
    REQUIRE(tokenizer->bos_id() == 50256);
    REQUIRE(tokenizer->eos_id() == 50256);
    REQUIRE_FALSE(tokenizer->pad_id());
    hmt::test::check_golden_cases(*tokenizer, golden["cases"]);
  }
  // A folder whose model is not called tokenizer.model.
  auto sp_dir = shared_data() / "holdout/tokenizers/sentencepiece_test";
  REQUIRE(hmt::load_tokenizer(sp_dir.string())->path() == (sp_dir / "test_model.model").string());
}

TEST_CASE("tokenizer: a missing path is an error naming it", "[tokenizer]") {
  auto dir = hmt::test::temp_dir("tokenizer_missing");
  auto missing = (dir / "nope" / "tokenizer.json").string();
  REQUIRE_THROWS_MATCHES(hmt::load_tokenizer(missing), hmt::Error,
                         Catch::Matchers::Message(missing + ": no such tokenizer file or directory"));
  REQUIRE_THROWS_WITH(hmt::load_tokenizer(dir.string()),
                      Contains(dir.string()) && Contains("no tokenizer.json, vocab.json or *.model"));
  write_text(dir / "tokenizer.txt", "x");
  REQUIRE_THROWS_WITH(hmt::load_tokenizer((dir / "tokenizer.txt").string()),
                      Contains("tokenizer.txt: unknown tokenizer format"));
}

TEST_CASE("tokenizer: malformed JSON names the file and the byte", "[tokenizer]") {
  auto dir = hmt::test::temp_dir("tokenizer_malformed");
  auto path = (dir / "tokenizer.json").string();
  write_text(path, "{\"model\": {\"type\": \"BPE\",, }}");
  REQUIRE_THROWS_WITH(hmt::load_tokenizer(path), Contains(path + ": malformed JSON at byte 26"));
}

TEST_CASE("tokenizer: WordPiece and Unigram tokenizer.json are unsupported, by name", "[tokenizer]") {
  auto dir = hmt::test::temp_dir("tokenizer_unsupported");
  auto path = (dir / "tokenizer.json").string();
  write_text(path, R"({"model": {"type": "WordPiece", "vocab": {"a": 0}}})");
  REQUIRE_THROWS_WITH(hmt::load_tokenizer(path),
                      Contains(path) && Contains("unsupported tokenizer model type 'WordPiece'"));
  write_text(path, R"({"model": {"type": "Unigram", "vocab": [["a", 0.0]]}})");
  REQUIRE_THROWS_WITH(hmt::load_tokenizer(path), Contains("unsupported tokenizer model type 'Unigram'"));
  // BPE without a ByteLevel pre-tokenizer (Llama-2's tokenizer.json style).
  write_text(path, R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
                  "pre_tokenizer": {"type": "Metaspace", "replacement": "_"}})");
  REQUIRE_THROWS_WITH(hmt::load_tokenizer(path), Contains(path) && Contains("unsupported pre_tokenizer 'Metaspace'"));
}

TEST_CASE("tokenizer: a merge of unknown tokens names the file and the merge", "[tokenizer]") {
  auto dir = hmt::test::temp_dir("tokenizer_bad_merge");
  auto path = (dir / "tokenizer.json").string();
  write_text(path, R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2},
                            "merges": ["a b", ["ab", "c"]]},
                  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false}})");
  REQUIRE_THROWS_WITH(hmt::load_tokenizer(path),
                      Contains(path + ": merge 2 references token 'c' which is not in the vocabulary"));

  write_text(dir / "vocab.json", R"({"a": 0, "b": 1, "ab": 2})");
  write_text(dir / "merges.txt", "#version: 0.2\na b\nab x\n");
  REQUIRE_THROWS_WITH(hmt::load_tokenizer((dir / "vocab.json").string()),
                      Contains("merge 2 references token 'x'") && Contains((dir / "merges.txt").string()));
  std::filesystem::remove(dir / "merges.txt");
  REQUIRE_THROWS_WITH(hmt::load_tokenizer((dir / "vocab.json").string()),
                      Contains((dir / "merges.txt").string() + ": cannot open merges.txt"));
  write_text(dir / "merges.txt", "#version: 0.2\na b c\n");
  REQUIRE_THROWS_WITH(hmt::load_tokenizer((dir / "vocab.json").string()),
                      Contains((dir / "merges.txt").string() + ":2: expected 'left right'"));
}

TEST_CASE("tokenizer: a small hand-written byte-level BPE merges by rank", "[tokenizer]") {
  // Ranks decide: "b c" (rank 1) before "a b" (rank 2) gives a|bc, not ab|c.
  auto dir = hmt::test::temp_dir("tokenizer_tiny");
  auto path = (dir / "tokenizer.json").string();
  write_text(path, R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "c": 2, "ab": 3, "bc": 4},
                            "merges": ["b c", "a b"]},
                  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false}})");
  auto tokenizer = hmt::load_tokenizer(path);
  REQUIRE(tokenizer->encode("abc") == std::vector<int32_t>{0, 4});
  REQUIRE(tokenizer->encode("ab") == std::vector<int32_t>{3});
  // No token for 'd' and no unk: HF drops the byte.
  REQUIRE(tokenizer->encode("abd") == std::vector<int32_t>{3});
  REQUIRE(tokenizer->decode({0, 4, 3}) == "abcab");
  REQUIRE_THROWS_WITH(tokenizer->decode({7}), Contains("token id 7 is outside the vocabulary (size 5)"));
  REQUIRE_FALSE(tokenizer->bos_id());
}
