// load_tokenizer: picks the implementation from the file name.
#include "data/tokenizers/tokenizer.h"

#include <filesystem>

#include "core/error.h"
#include "data/tokenizers/gpt2_files.h"
#include "data/tokenizers/hf_tokenizer_json.h"
#include "data/tokenizers/sentencepiece_tokenizer.h"

namespace hmt {

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  namespace fs = std::filesystem;
  HMT_CHECK(fs::exists(path), "{}: no such tokenizer file or directory", path);
  fs::path file = path;
  if (fs::is_directory(file)) {
    // tokenizer.json first: it carries the normalizer and added tokens that
    // vocab.json + merges.txt cannot.
    fs::path found;
    for (const char* name : {"tokenizer.json", "vocab.json", "tokenizer.model"}) {
      if (fs::is_regular_file(file / name)) {
        found = file / name;
        break;
      }
    }
    if (found.empty()) {
      for (const auto& entry : fs::directory_iterator(file)) {
        if (entry.is_regular_file() && entry.path().extension() == ".model") {
          found = entry.path();
          break;
        }
      }
    }
    HMT_CHECK(!found.empty(), "{}: no tokenizer.json, vocab.json or *.model in this directory", path);
    file = found;
  }
  std::string name = file.filename().string();
  if (file.extension() == ".model") return std::make_unique<SentencePieceTokenizer>(file.string());
  if (name == "vocab.json" || (file.extension() == ".json" && name.find("vocab") != std::string::npos))
    return load_gpt2_files(file.string());
  if (file.extension() == ".json") return load_hf_tokenizer_json(file.string());
  fail("{}: unknown tokenizer format (expected tokenizer.json, vocab.json with merges.txt, or a "
       "SentencePiece .model)",
       file.string());
}

std::string tokenizer_fingerprint(const std::string& path) { return load_tokenizer(path)->fingerprint(); }

}  // namespace hmt
