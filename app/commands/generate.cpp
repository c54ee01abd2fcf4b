// hmt generate EXPORT_DIR (--prompt FILE | --prompt-ids FILE) [options]
// Reads the prompt segment by segment with HMT memory and continues it one
// token at a time with a key/value cache (model/hmt_generator.h,
// docs/generation.md). Text streams to stdout as tokens arrive; progress and
// speed go to stderr.
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/commands/commands.h"
#include "app/commands/text_io.h"
#include "app/commands/text_stream.h"
#include "core/device.h"
#include "core/error.h"
#include "core/runtime.h"
#include "data/tokenizers/tokenizer.h"
#include "model/hmt_export.h"
#include "model/hmt_generator.h"
#include "model/sampling.h"

namespace hmt::cli {
namespace {

namespace fs = std::filesystem;

struct GenerateArgs {
  std::string export_dir, prompt, prompt_ids, tokenizer, ids_out;
  int64_t max_new_tokens = 200;
  SamplingOptions sampling;
  uint64_t seed = 0;
  bool add_bos = false;
  bool ignore_eos = false;
  bool json = false;
  bool no_kv_cache = false;
  int threads = 0;
  std::string device = "cpu";
};

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

double per_second(int64_t count, double seconds) { return seconds > 0 ? static_cast<double>(count) / seconds : 0.0; }

// The export carries its tokenizer file under the file's own name; the
// names load_tokenizer() recognises in a directory are looked for there.
bool export_has_tokenizer(const std::string& dir) {
  for (const char* name : {"tokenizer.json", "vocab.json", "tokenizer.model"})
    if (fs::is_regular_file(fs::path(dir) / name)) return true;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_regular_file() && entry.path().extension() == ".model") return true;
  return false;
}

std::unique_ptr<Tokenizer> find_tokenizer(const GenerateArgs& args) {
  if (!args.tokenizer.empty()) return load_tokenizer(args.tokenizer);
  if (export_has_tokenizer(args.export_dir)) return load_tokenizer(args.export_dir);
  return nullptr;
}

void check_args(const GenerateArgs& args) {
  HMT_CHECK(fs::is_directory(args.export_dir), "{}: not an HMT export directory", args.export_dir);
  HMT_CHECK(args.prompt.empty() != args.prompt_ids.empty(),
            "generate: give the prompt as text (--prompt FILE) or as ids (--prompt-ids FILE), exactly one");
  HMT_CHECK(args.max_new_tokens >= 0, "--max-new-tokens must be >= 0, got {}", args.max_new_tokens);
  HMT_CHECK(args.threads >= 0, "--threads must be >= 0 (0 = all cores), got {}", args.threads);
  check_sampling_options(args.sampling);
}

std::vector<int32_t> read_prompt(const GenerateArgs& args, const Tokenizer* tokenizer) {
  std::vector<int32_t> ids;
  if (!args.prompt.empty()) {
    HMT_CHECK(tokenizer != nullptr,
              "--prompt {}: a text prompt needs a tokenizer, and {} holds none (tokenizer.json, vocab.json or "
              "*.model); pass --tokenizer PATH, or give token ids with --prompt-ids",
              args.prompt, args.export_dir);
    ids = tokenizer->encode(read_file(args.prompt));
  } else {
    ids = read_ids(args.prompt_ids);
  }
  const std::string& file = args.prompt.empty() ? args.prompt_ids : args.prompt;
  if (args.add_bos) {
    HMT_CHECK(tokenizer && tokenizer->bos_id(), "--add-bos: {}",
              tokenizer ? "the tokenizer has no bos token" : "needs a tokenizer (--tokenizer PATH)");
    ids.insert(ids.begin(), *tokenizer->bos_id());
  }
  HMT_CHECK(!ids.empty(), "{}: the prompt is empty (it needs at least one token)", file);
  return ids;
}

// Next-token logits restricted to the ids the tokenizer can decode, when the
// model's vocabulary is larger (padded embedding tables).
torch::Tensor decodable(const torch::Tensor& logits, const Tokenizer* tokenizer) {
  if (!tokenizer || tokenizer->vocab_size() >= logits.size(0)) return logits;
  return logits.narrow(/*dim=*/0, 0, tokenizer->vocab_size());
}

int run_generate(const GenerateArgs& args) {
  check_args(args);
  apply_threads(args.threads);
  auto tokenizer = find_tokenizer(args);
  std::vector<int32_t> prompt = read_prompt(args, tokenizer.get());

  auto model = load_hmt_export(args.export_dir);
  const auto device = resolve_device(args.device, "generate --device");
  model->to(device);
  const int64_t vocab = model->backbone().config().vocab_size;
  const std::string& prompt_file = args.prompt.empty() ? args.prompt_ids : args.prompt;
  for (size_t i = 0; i < prompt.size(); ++i)
    HMT_CHECK(prompt[i] >= 0 && prompt[i] < vocab, "{}: token #{} is id {}, outside the model's vocabulary [0, {})",
              prompt_file, i, prompt[i], vocab);

  std::optional<int64_t> eos;
  if (!args.ignore_eos) {
    if (tokenizer && tokenizer->eos_id()) eos = *tokenizer->eos_id();
    else if (model->backbone().config().eos_token_id >= 0) eos = model->backbone().config().eos_token_id;
  }

  HmtGenerator generator(*model, args.no_kv_cache ? HmtGenerator::Mode::Recompute : HmtGenerator::Mode::Cached);
  Sampler sampler(args.sampling, args.seed);
  const bool stream = !args.json;
  std::unique_ptr<TextStream> text_stream;
  if (tokenizer) text_stream = std::make_unique<TextStream>(*tokenizer, prompt);
  std::string text;  // everything decoded, for --json

  auto start = Clock::now();
  auto logits = generator.feed(std::vector<int64_t>(prompt.begin(), prompt.end()));
  synchronize(device);
  const double prompt_seconds = seconds_since(start);
  std::fprintf(stderr, "prompt: %zu tokens in %lld segment(s) of %lld, read in %.3f s (%.1f tokens/s)\n", prompt.size(),
               static_cast<long long>(generator.segment() + 1), static_cast<long long>(model->config().segment_length),
               prompt_seconds, per_second(static_cast<int64_t>(prompt.size()), prompt_seconds));

  std::vector<int32_t> generated;
  std::string stop = "max_new_tokens";
  start = Clock::now();
  for (int64_t i = 0; i < args.max_new_tokens; ++i) {
    const auto id = static_cast<int32_t>(sampler.next(decodable(logits, tokenizer.get())));
    generated.push_back(id);
    if (eos && id == *eos) {
      stop = "eos";
      break;
    }
    std::string piece = text_stream ? text_stream->push(id) : (i ? " " : "") + std::to_string(id);
    text += piece;
    if (stream && !piece.empty()) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    }
    if (i + 1 < args.max_new_tokens) logits = generator.append_generated(id);
  }
  synchronize(device);
  const double generate_seconds = seconds_since(start);
  const std::string rest = text_stream ? text_stream->finish() : std::string();
  text += rest;

  const auto count = static_cast<int64_t>(generated.size());
  // Segments the prompt and the generated text span together.
  const int64_t L = model->config().segment_length;
  const int64_t segments = (static_cast<int64_t>(prompt.size()) + count + L - 1) / L;
  if (args.json) {
    nlohmann::ordered_json out = {{"prompt_tokens", prompt.size()},
                                  {"generated_tokens", count},
                                  {"ids", generated},
                                  {"stop", stop},
                                  {"segments", segments},
                                  {"prompt_seconds", prompt_seconds},
                                  {"generate_seconds", generate_seconds}};
    if (tokenizer) out["text"] = text;
    // Generated bytes need not be valid UTF-8 (a byte-level token may end
    // mid-character); JSON gets U+FFFD for those bytes instead of an error.
    std::printf("%s\n", out.dump(/*indent=*/-1, /*indent_char=*/' ', /*ensure_ascii=*/false,
                                 nlohmann::json::error_handler_t::replace)
                            .c_str());
  } else {
    std::fwrite(rest.data(), 1, rest.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
  }
  if (!args.ids_out.empty()) {
    FILE* file = std::fopen(args.ids_out.c_str(), "w");
    HMT_CHECK(file != nullptr, "--ids-out {}: cannot open for writing", args.ids_out);
    write_ids(file, generated);
    HMT_CHECK(std::fclose(file) == 0, "--ids-out {}: write failed", args.ids_out);
  }
  std::fprintf(stderr, "generated: %lld tokens in %.3f s (%.1f tokens/s), stopped at %s, %lld segment(s) in all\n",
               static_cast<long long>(count), generate_seconds, per_second(count, generate_seconds),
               stop == "eos" ? "eos" : "--max-new-tokens", static_cast<long long>(segments));
  return 0;
}

}  // namespace

void add_generate(CLI::App& app, Action& action) {
  auto args = std::make_shared<GenerateArgs>();
  auto* cmd = app.add_subcommand("generate", "Continue a prompt with an HMT export (segment memory + KV cache)");
  cmd->add_option("export_dir", args->export_dir, "HMT export directory (hmt.safetensors + hmt_config.json)")
      ->required();
  cmd->add_option("--prompt", args->prompt, "prompt text file (needs a tokenizer)");
  cmd->add_option("--prompt-ids", args->prompt_ids, "prompt as a file of whitespace-separated token ids");
  cmd->add_option("--tokenizer", args->tokenizer,
                  "tokenizer file or directory (default: the one in EXPORT_DIR, if any)");
  cmd->add_option("--max-new-tokens", args->max_new_tokens, "stop after this many generated tokens")
      ->capture_default_str();
  cmd->add_flag("--greedy", args->sampling.greedy, "argmax decoding (ignores temperature, top-k, top-p)");
  cmd->add_option("--temperature", args->sampling.temperature, "softmax temperature, > 0")->capture_default_str();
  cmd->add_option("--top-k", args->sampling.top_k, "sample among the k most likely tokens (0 = all)")
      ->capture_default_str();
  cmd->add_option("--top-p", args->sampling.top_p, "nucleus: the smallest set with probability >= p (1 = all)")
      ->capture_default_str();
  cmd->add_option("--seed", args->seed, "seed of the sampler's own generator")->capture_default_str();
  cmd->add_flag("--add-bos", args->add_bos, "put the tokenizer's bos token before a text prompt's ids");
  cmd->add_flag("--ignore-eos", args->ignore_eos, "do not stop at the eos token (always --max-new-tokens)");
  cmd->add_option("--ids-out", args->ids_out, "write the generated ids (eos included) to this file");
  cmd->add_flag("--json", args->json,
                "no streaming: print one JSON object (prompt_tokens, generated_tokens, ids, stop, segments, "
                "timings, text with a tokenizer)");
  cmd->add_flag("--no-kv-cache", args->no_kv_cache,
                "recompute the open segment's whole pass for every token (the slow reference path)");
  cmd->add_option("--threads", args->threads, "intra-op threads (0 = all cores)")->capture_default_str();
  cmd->add_option("--device", args->device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->callback([&action, args] { action = [args] { return run_generate(*args); }; });
}

}  // namespace hmt::cli
