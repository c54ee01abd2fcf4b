#include "data/tokenizers/gpt2_files.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/sha256.h"
#include "data/tokenizers/hf_tokenizer_json.h"

namespace hmt {

std::unique_ptr<ByteLevelBpe> load_gpt2_files(const std::string& vocab_json_path) {
  namespace fs = std::filesystem;
  std::string merges_path = (fs::path(vocab_json_path).parent_path() / "merges.txt").string();
  BpeSpec spec;
  spec.source = vocab_json_path;

  std::ifstream vocab_in(vocab_json_path, std::ios::binary);
  HMT_CHECK(vocab_in, "{}: cannot open tokenizer file", vocab_json_path);
  std::stringstream buffer;
  buffer << vocab_in.rdbuf();
  try {
    nlohmann::json vocab = nlohmann::json::parse(buffer.str());
    for (const auto& [token, id] : vocab.items()) spec.vocab.emplace_back(token, id.get<int32_t>());
  } catch (const nlohmann::json::parse_error& e) {
    fail("{}: malformed JSON at byte {}: {}", vocab_json_path, e.byte, e.what());
  } catch (const nlohmann::json::exception& e) {
    fail("{}: expected an object of token -> id: {}", vocab_json_path, e.what());
  }

  std::ifstream merges_in(merges_path, std::ios::binary);
  HMT_CHECK(merges_in, "{}: cannot open merges.txt (needed beside {})", merges_path, vocab_json_path);
  std::string line;
  for (size_t number = 1; std::getline(merges_in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (number == 1 && line.rfind("#version", 0) == 0)) continue;
    size_t space = line.find(' ');
    HMT_CHECK(space != std::string::npos && line.find(' ', space + 1) == std::string::npos,
              "{}:{}: expected 'left right', got '{}'", merges_path, number, line);
    spec.merges.emplace_back(line.substr(0, space), line.substr(space + 1));
  }
  for (const auto& [token, id] : spec.vocab) {
    if (token == "<|endoftext|>") {
      // GPT2Tokenizer treats it as a special added token.
      AddedToken eot;
      eot.id = id;
      eot.content = token;
      eot.special = true;
      spec.added_tokens.push_back(eot);
    }
  }
  spec.pre_tokenizer = make_byte_level_pre_tokenizer(false, true);

  // Merge errors name merges.txt, the file they come from.
  std::unique_ptr<ByteLevelBpe> tokenizer;
  try {
    tokenizer = std::make_unique<ByteLevelBpe>(std::move(spec));
  } catch (const Error& e) {
    std::string what = e.what();
    if (what.find("merge ") != std::string::npos) fail("{} (merges from {})", what, merges_path);
    throw;
  }
  // Both files define the tokenizer: the fingerprint covers both.
  tokenizer->set_origin(vocab_json_path, sha256_hex(sha256_file(vocab_json_path) + sha256_file(merges_path)));
  apply_tokenizer_config(*tokenizer, fs::path(vocab_json_path).parent_path().string());
  return tokenizer;
}

}  // namespace hmt
