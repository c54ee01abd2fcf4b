#pragma once
// GPT-2's original files: vocab.json (token -> id) and merges.txt beside it.
#include <memory>
#include <string>

#include "data/tokenizers/byte_level_bpe.h"

namespace hmt {
// GPT-2 pipeline: GPT-2 regex, no normalizer, <|endoftext|> as added token.
std::unique_ptr<ByteLevelBpe> load_gpt2_files(const std::string& vocab_json_path);
}  // namespace hmt
