#pragma once
// HF tokenizer.json (model.type BPE with a ByteLevel pre-tokenizer) and the
// special tokens of the tokenizer_config.json beside it.
#include <memory>
#include <string>

#include "data/tokenizers/byte_level_bpe.h"

namespace hmt {

std::unique_ptr<ByteLevelBpe> load_hf_tokenizer_json(const std::string& path);

// Sets bos/eos/pad from `dir`/tokenizer_config.json (bos_token, eos_token,
// pad_token: a string or {"content": ...}) when that file exists; otherwise
// bos = eos = <|endoftext|> when the vocabulary has it (GPT-2), pad none.
// Returns false when there was no tokenizer_config.json.
bool apply_tokenizer_config(ByteLevelBpe& tokenizer, const std::string& dir);

}  // namespace hmt
