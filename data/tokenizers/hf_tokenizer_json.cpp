#include "data/tokenizers/hf_tokenizer_json.h"

#include <filesystem>
#include <functional>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/sha256.h"

namespace hmt {

namespace {

using nlohmann::json;

json read_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  HMT_CHECK(in, "{}: cannot open tokenizer file", path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  try {
    return json::parse(buffer.str());
  } catch (const json::parse_error& e) {
    fail("{}: malformed JSON at byte {}: {}", path, e.byte, e.what());
  }
}

std::string type_of(const json& node) {
  return node.is_object() && node.contains("type") && node["type"].is_string() ? node["type"].get<std::string>()
                                                                               : std::string();
}

TextNormalizer parse_normalizer(const json& node, const std::string& path) {
  std::vector<UnicodeForm> steps;
  std::function<void(const json&)> add = [&](const json& n) {
    if (n.is_null()) return;
    std::string type = type_of(n);
    if (type == "NFC") steps.push_back(UnicodeForm::NFC);
    else if (type == "NFD") steps.push_back(UnicodeForm::NFD);
    else if (type == "NFKC") steps.push_back(UnicodeForm::NFKC);
    else if (type == "NFKD") steps.push_back(UnicodeForm::NFKD);
    else if (type == "Sequence")
      for (const json& step : n.at("normalizers")) add(step);
    else fail("{}: unsupported normalizer '{}' (supported: NFC, NFD, NFKC, NFKD, Sequence)", path, type);
  };
  add(node);
  return TextNormalizer(std::move(steps));
}

std::unique_ptr<PreTokenizer> parse_pre_tokenizer(const json& node, const std::string& path) {
  std::string type = type_of(node);
  if (type == "ByteLevel")
    return make_byte_level_pre_tokenizer(node.value("add_prefix_space", false), node.value("use_regex", true));
  if (type == "Split") {
    const json& pattern = node.at("pattern");
    bool literal = pattern.contains("String");
    std::string text = pattern.at(literal ? "String" : "Regex").get<std::string>();
    return make_split_pre_tokenizer(text, literal, parse_split_behavior(node.at("behavior").get<std::string>()),
                                    node.value("invert", false));
  }
  if (type == "Digits") return make_digits_pre_tokenizer(node.value("individual_digits", false));
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    for (const json& step : node.at("pretokenizers")) steps.push_back(parse_pre_tokenizer(step, path));
    return make_sequence_pre_tokenizer(std::move(steps));
  }
  fail("{}: unsupported pre_tokenizer '{}' (supported: ByteLevel, Split, Digits, Sequence)", path,
       node.is_null() ? "null" : type);
}

void check_decoder(const json& node, const std::string& path) {
  std::string type = type_of(node);
  if (node.is_null() || type == "ByteLevel") return;
  if (type == "Sequence") {
    for (const json& step : node.at("decoders")) check_decoder(step, path);
    return;
  }
  fail("{}: unsupported decoder '{}' (byte-level BPE decodes with ByteLevel)", path, type);
}

// bos = the special token before $A in the single-sequence template, eos the
// one after it (Llama-3: "<|begin_of_text|> $A").
void special_from_post_processor(const json& node, ByteLevelBpe& tokenizer, std::optional<int32_t>& bos,
                                 std::optional<int32_t>& eos) {
  std::string type = type_of(node);
  if (type == "Sequence" && node.contains("processors")) {
    for (const json& p : node["processors"]) special_from_post_processor(p, tokenizer, bos, eos);
    return;
  }
  if (type != "TemplateProcessing" || !node.contains("single")) return;
  bool seen_sequence = false;
  for (const json& piece : node["single"]) {
    if (piece.contains("Sequence")) {
      seen_sequence = true;
    } else if (piece.contains("SpecialToken")) {
      std::string name = piece["SpecialToken"].at("id").get<std::string>();
      auto id = tokenizer.token_to_id(name);
      if (!seen_sequence && !bos) bos = id;
      if (seen_sequence && !eos) eos = id;
    }
  }
}

}  // namespace

bool apply_tokenizer_config(ByteLevelBpe& tokenizer, const std::string& dir) {
  std::string path = (std::filesystem::path(dir) / "tokenizer_config.json").string();
  if (!std::filesystem::exists(path)) {
    auto eot = tokenizer.token_to_id("<|endoftext|>");
    tokenizer.set_special_ids(eot, eot, std::nullopt);
    return false;
  }
  json config = read_json(path);
  auto id_of = [&](const char* key) -> std::optional<int32_t> {
    if (!config.contains(key) || config[key].is_null()) return std::nullopt;
    const json& value = config[key];
    std::string token = value.is_object() ? value.at("content").get<std::string>() : value.get<std::string>();
    auto id = tokenizer.token_to_id(token);
    HMT_CHECK(id, "{}: {} '{}' is not a token of the tokenizer", path, key, token);
    return id;
  };
  tokenizer.set_special_ids(id_of("bos_token"), id_of("eos_token"), id_of("pad_token"));
  return true;
}

std::unique_ptr<ByteLevelBpe> load_hf_tokenizer_json(const std::string& path) {
  json root = read_json(path);
  BpeSpec spec;
  spec.source = path;
  try {
    HMT_CHECK(root.is_object() && root.contains("model"), "{}: no \"model\" in tokenizer.json", path);
    const json& model = root["model"];
    std::string type = type_of(model);
    if (type.empty() && model.contains("merges")) type = "BPE";  // very old files omit it
    HMT_CHECK(type == "BPE",
              "{}: unsupported tokenizer model type '{}' (supported: BPE; use a SentencePiece "
              ".model file for Unigram models)",
              path, type.empty() ? "?" : type);
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
      if (model.contains(key) && model[key].is_string() && !model[key].get<std::string>().empty())
        fail("{}: unsupported BPE option {}='{}'", path, key, model[key].get<std::string>());
    }
    for (const auto& [token, id] : model.at("vocab").items()) spec.vocab.emplace_back(token, id.get<int32_t>());
    for (const json& merge : model.at("merges")) {
      if (merge.is_array()) {
        HMT_CHECK(merge.size() == 2, "{}: a merge must have two tokens: {}", path, merge.dump());
        spec.merges.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());
      } else {
        std::string line = merge.get<std::string>();
        size_t space = line.find(' ');
        HMT_CHECK(space != std::string::npos, "{}: merge '{}' is not 'left right'", path, line);
        spec.merges.emplace_back(line.substr(0, space), line.substr(space + 1));
      }
    }
    spec.ignore_merges = model.value("ignore_merges", false);
    spec.byte_fallback = model.value("byte_fallback", false);
    if (model.contains("unk_token") && model["unk_token"].is_string())
      spec.unk_token = model["unk_token"].get<std::string>();

    if (root.contains("added_tokens")) {
      for (const json& t : root["added_tokens"]) {
        AddedToken token;
        token.id = t.at("id").get<int32_t>();
        token.content = t.at("content").get<std::string>();
        token.special = t.value("special", false);
        token.normalized = t.value("normalized", !token.special);
        token.lstrip = t.value("lstrip", false);
        token.rstrip = t.value("rstrip", false);
        token.single_word = t.value("single_word", false);
        spec.added_tokens.push_back(std::move(token));
      }
    }
    spec.normalizer = parse_normalizer(root.value("normalizer", json()), path);
    spec.pre_tokenizer = parse_pre_tokenizer(root.value("pre_tokenizer", json()), path);
    check_decoder(root.value("decoder", json()), path);
  } catch (const json::exception& e) {
    fail("{}: unexpected tokenizer.json structure: {}", path, e.what());
  }

  auto tokenizer = std::make_unique<ByteLevelBpe>(std::move(spec));
  tokenizer->set_origin(path, sha256_file(path));
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (!apply_tokenizer_config(*tokenizer, dir.empty() ? "." : dir)) {
    std::optional<int32_t> bos, eos;
    special_from_post_processor(root.value("post_processor", json()), *tokenizer, bos, eos);
    if (bos || eos) tokenizer->set_special_ids(bos, eos, std::nullopt);
  }
  return tokenizer;
}

}  // namespace hmt
