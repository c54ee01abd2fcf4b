#include "data/tokenizers/sentencepiece_tokenizer.h"

#include <dlfcn.h>

#include <filesystem>
#include <mutex>

#include <fmt/format.h>

#include "core/error.h"
#include "core/runtime.h"
#include "core/sha256.h"

namespace hmt {

namespace {

// The shim's C functions, resolved once.
struct Shim {
  const char* (*last_error)();
  void* (*load)(const char*);
  void (*free)(void*);
  const int32_t* (*encode)(void*, const char*, size_t, size_t*);
  const char* (*decode)(void*, const int32_t*, size_t, size_t*);
  int32_t (*piece_size)(void*);
  int32_t (*bos_id)(void*);
  int32_t (*eos_id)(void*);
  int32_t (*pad_id)(void*);
  int32_t (*unk_id)(void*);
  const char* (*id_to_piece)(void*, int32_t, size_t*);
  int (*train)(const char*);
};

std::string shim_path() {
  namespace fs = std::filesystem;
#ifdef HMT_SENTENCEPIECE_SHIM
  if (fs::exists(HMT_SENTENCEPIECE_SHIM)) return HMT_SENTENCEPIECE_SHIM;
#endif
  // An installed or moved build: the library sits next to the executable.
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return (exe.parent_path() / "libhmt_sentencepiece.so").string();
}

const Shim& shim() {
  static Shim functions;
  static std::once_flag once;
  std::call_once(once, [] {
    std::string path = shim_path();
    // DEEPBIND: sentencepiece's bundled protobuf must bind to itself, not to
    // the libprotobuf that LibTorch already brought into the process.
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (!handle) fail("cannot load the SentencePiece shim {}: {}", path, dlerror());
    auto get = [&](auto& fn, const char* name) {
      void* symbol = dlsym(handle, name);
      if (!symbol) fail("{}: missing symbol {}", path, name);
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(symbol);
    };
    get(functions.last_error, "hmt_sp_last_error");
    get(functions.load, "hmt_sp_load");
    get(functions.free, "hmt_sp_free");
    get(functions.encode, "hmt_sp_encode");
    get(functions.decode, "hmt_sp_decode");
    get(functions.piece_size, "hmt_sp_piece_size");
    get(functions.bos_id, "hmt_sp_bos_id");
    get(functions.eos_id, "hmt_sp_eos_id");
    get(functions.pad_id, "hmt_sp_pad_id");
    get(functions.unk_id, "hmt_sp_unk_id");
    get(functions.id_to_piece, "hmt_sp_id_to_piece");
    get(functions.train, "hmt_sp_train");
    // The handle stays open for the life of the process.
  });
  return functions;
}

std::optional<int32_t> valid_id(int32_t id) {
  return id >= 0 ? std::optional<int32_t>(id) : std::nullopt;  // SentencePiece: -1 = disabled
}

}  // namespace

std::string sentencepiece_shim_path() { return shim_path(); }

SentencePieceTokenizer::SentencePieceTokenizer(const std::string& model_path) {
  HMT_CHECK(std::filesystem::is_regular_file(model_path), "{}: no such SentencePiece model file", model_path);
  const Shim& sp = shim();
  processor_ = sp.load(model_path.c_str());
  HMT_CHECK(processor_, "{}: not a SentencePiece model: {}", model_path, sp.last_error());
  vocab_size_ = sp.piece_size(processor_);
  bos_id_ = valid_id(sp.bos_id(processor_));
  eos_id_ = valid_id(sp.eos_id(processor_));
  pad_id_ = valid_id(sp.pad_id(processor_));
  unk_id_ = valid_id(sp.unk_id(processor_));
  path_ = model_path;
  fingerprint_ = sha256_file(model_path);
}

SentencePieceTokenizer::~SentencePieceTokenizer() {
  if (processor_) shim().free(processor_);
}

std::vector<int32_t> SentencePieceTokenizer::encode(std::string_view text) const {
  size_t count = 0;
  const int32_t* ids = shim().encode(processor_, text.data(), text.size(), &count);
  HMT_CHECK(ids, "{}: SentencePiece encode failed: {}", path_, shim().last_error());
  return std::vector<int32_t>(ids, ids + count);
}

std::string SentencePieceTokenizer::decode(const std::vector<int32_t>& ids) const {
  for (int32_t id : ids)
    HMT_CHECK(id >= 0 && id < vocab_size_, "{}: token id {} is outside the vocabulary (size {})", path_, id,
              vocab_size_);
  size_t size = 0;
  const char* text = shim().decode(processor_, ids.data(), ids.size(), &size);
  HMT_CHECK(text, "{}: SentencePiece decode failed: {}", path_, shim().last_error());
  return std::string(text, size);
}

std::string SentencePieceTokenizer::id_to_piece(int32_t id) const {
  HMT_CHECK(id >= 0 && id < vocab_size_, "{}: token id {} is outside the vocabulary (size {})", path_, id, vocab_size_);
  size_t size = 0;
  const char* piece = shim().id_to_piece(processor_, id, &size);
  return std::string(piece, size);
}

void train_sentencepiece(const SentencePieceTrainOptions& options) {
  HMT_CHECK(!options.inputs.empty(), "train_sentencepiece: no input files");
  HMT_CHECK(!options.model_prefix.empty(), "train_sentencepiece: model_prefix is empty");
  std::string inputs;
  for (const std::string& input : options.inputs) {
    HMT_CHECK(std::filesystem::is_regular_file(input), "{}: no such training text file", input);
    HMT_CHECK(input.find(',') == std::string::npos,
              "{}: SentencePiece takes inputs as a comma-separated list; rename the file", input);
    inputs += (inputs.empty() ? "" : ",") + input;
  }
  // SentencePiece's flag parser splits on spaces and has no quoting.
  HMT_CHECK(inputs.find(' ') == std::string::npos && options.model_prefix.find(' ') == std::string::npos,
            "train_sentencepiece: paths with spaces are not supported: {} / {}", inputs, options.model_prefix);
  std::string args = fmt::format("--input={} --model_prefix={} --vocab_size={} --model_type={} --character_coverage={} "
                                 "--byte_fallback={} --input_sentence_size={} --shuffle_input_sentence=true "
                                 "--num_threads={} --normalization_rule_name={} --remove_extra_whitespaces={}",
                                 inputs, options.model_prefix, options.vocab_size, options.model_type,
                                 options.character_coverage, options.byte_fallback ? "true" : "false",
                                 options.input_sentence_size, resolve_threads(options.threads),
                                 options.normalization_rule_name, options.remove_extra_whitespaces ? "true" : "false");
  HMT_CHECK(shim().train(args.c_str()) == 0, "SentencePiece training of {} failed: {}", options.model_prefix,
            shim().last_error());
}

}  // namespace hmt
