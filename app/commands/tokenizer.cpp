// hmt tokenizer encode|decode|train
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "app/commands/commands.h"
#include "app/commands/text_io.h"
#include "core/error.h"
#include "core/runtime.h"
#include "data/tokenizers/tokenizer.h"

namespace hmt::cli {
namespace {

struct EncodeArgs {
  std::string tokenizer, input;
  bool stats = false;
};

int run_encode(const EncodeArgs& args) {
  auto tokenizer = load_tokenizer(args.tokenizer);
  std::string text = read_file(args.input);
  auto start = std::chrono::steady_clock::now();
  std::vector<int32_t> ids = tokenizer->encode(text);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  write_ids(stdout, ids);
  if (args.stats) {
    std::fprintf(stderr, "encoded %zu bytes into %zu tokens in %.3f s: %.2f MB/s (one thread)\n", text.size(),
                 ids.size(), seconds, text.size() / 1e6 / std::max(seconds, 1e-9));
  }
  return 0;
}

struct DecodeArgs {
  std::string tokenizer, ids;
};

int run_decode(const DecodeArgs& args) {
  auto tokenizer = load_tokenizer(args.tokenizer);
  std::vector<int32_t> ids = read_ids(args.ids);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= tokenizer->vocab_size())
      fail("{}: token #{} is id {}, outside the tokenizer's vocabulary [0, {})", args.ids, i, ids[i],
           tokenizer->vocab_size());
  }
  std::string text = tokenizer->decode(ids);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}

int run_train(SentencePieceTrainOptions options, const std::vector<std::string>& inputs) {
  // Folders expand to the .txt files inside them, so a PG-19 split can be given as is.
  for (const auto& input : inputs) {
    if (std::filesystem::is_directory(input)) {
      std::vector<std::string> files;
      for (const auto& entry : std::filesystem::recursive_directory_iterator(input))
        if (entry.is_regular_file() && entry.path().extension() == ".txt") files.push_back(entry.path().string());
      if (files.empty()) fail("{}: folder has no .txt files to train on", input);
      std::sort(files.begin(), files.end());
      options.inputs.insert(options.inputs.end(), files.begin(), files.end());
    } else {
      if (!std::filesystem::is_regular_file(input)) fail("{}: no such training text file", input);
      options.inputs.push_back(input);
    }
  }
  options.threads = resolve_threads(options.threads);
  auto parent = std::filesystem::path(options.model_prefix).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  std::fprintf(stderr, "training a %s SentencePiece model (vocab %d) on %zu file(s) with %d thread(s)\n",
               options.model_type.c_str(), options.vocab_size, options.inputs.size(), options.threads);
  train_sentencepiece(options);
  std::printf("%s.model\n", options.model_prefix.c_str());
  return 0;
}

}  // namespace

void add_tokenizer(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("tokenizer", "Encode, decode, or train a tokenizer");
  cmd->require_subcommand(1);

  auto encode = std::make_shared<EncodeArgs>();
  auto* enc = cmd->add_subcommand("encode", "Print the ids of a whole text file on one line");
  enc->add_option("--tokenizer", encode->tokenizer,
                  "tokenizer.json, vocab.json (merges.txt beside it), .model, or a folder holding one")
      ->required();
  enc->add_option("--input", encode->input, "UTF-8 text file")->required()->check(CLI::ExistingFile);
  enc->add_flag("--stats", encode->stats, "print bytes, tokens and MB/s to stderr");
  enc->callback([&action, encode] { action = [encode] { return run_encode(*encode); }; });

  auto decode = std::make_shared<DecodeArgs>();
  auto* dec = cmd->add_subcommand("decode", "Print the text of whitespace-separated ids");
  dec->add_option("--tokenizer", decode->tokenizer, "tokenizer file or folder")->required();
  dec->add_option("--ids", decode->ids, "file of whitespace-separated token ids")->required()->check(CLI::ExistingFile);
  dec->callback([&action, decode] { action = [decode] { return run_decode(*decode); }; });

  auto train = std::make_shared<SentencePieceTrainOptions>();
  auto inputs = std::make_shared<std::vector<std::string>>();
  auto* tr = cmd->add_subcommand("train", "Train a SentencePiece model on text files (for from-scratch runs)");
  tr->add_option("--input", *inputs, "text files or folders of .txt files")->required();
  tr->add_option("--model-prefix", train->model_prefix, "writes PREFIX.model and PREFIX.vocab")->required();
  tr->add_option("--vocab-size", train->vocab_size, "vocabulary size")
      ->capture_default_str()
      ->check(CLI::Range(8, 1 << 20));
  tr->add_option("--model-type", train->model_type, "bpe or unigram")
      ->capture_default_str()
      ->check(CLI::IsMember({"bpe", "unigram"}));
  tr->add_option("--character-coverage", train->character_coverage, "fraction of characters covered")
      ->capture_default_str()
      ->check(CLI::Range(0.5, 1.0));
  tr->add_option("--input-sentence-size", train->input_sentence_size, "sentences sampled for training")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  tr->add_option("--threads", train->threads, "0 = all cores")->capture_default_str()->check(CLI::NonNegativeNumber);
  tr->callback([&action, train, inputs] { action = [train, inputs] { return run_train(*train, *inputs); }; });
}

}  // namespace hmt::cli
