// hmt prepare CONFIG [overrides] | hmt prepare --dataset D --source S --tokenizer T --out O.h5:
// tokenizes a dataset source into one HDF5 token file (docs/data.md).
#include <cstdio>

#include "app/commands/commands.h"
#include "core/config.h"
#include "core/error.h"
#include "data/sources/prepare.h"

namespace hmt::cli {
namespace {

struct PrepareArgs {
  std::string config;
  std::vector<std::string> overrides;
  PrepareOptions flags;
  bool quiet = false;
};

int run_prepare(PrepareArgs args) {
  PrepareOptions options;
  if (!args.config.empty()) {
    ExperimentConfig experiment = load_experiment(args.config, args.overrides);
    std::printf("# resolved config\n%s\n", to_yaml(experiment).c_str());
    options = prepare_options(experiment);
  } else {
    HMT_CHECK(args.overrides.empty(), "prepare: overrides ({}) need a CONFIG file before them", args.overrides[0]);
    HMT_CHECK(!args.flags.dataset.empty(), "prepare: give CONFIG, or --dataset, --source, --tokenizer and --out");
    options = args.flags;
  }
  options.progress = !args.quiet;
  PrepareResult result = prepare_dataset(options);
  if (result.up_to_date)
    std::printf("%s: up to date (same sources, tokenizer and options); nothing to do\n", result.out.c_str());
  for (const auto& [split, counts] : result.splits) std::printf("%s\n", describe_counts(split, counts).c_str());
  if (!result.up_to_date)
    std::printf("wrote %s%s: %.1f MB of source text in %.2f s with %d thread(s): %.2f MB/s overall, %.2f MB/s "
                "tokenizing and writing\n",
                result.out.c_str(), result.resumed ? " (continued an interrupted run)" : "", result.source_bytes / 1e6,
                result.seconds, result.threads, result.source_bytes / 1e6 / std::max(result.seconds, 1e-9),
                result.source_bytes / 1e6 / std::max(result.tokenize_seconds, 1e-9));
  return 0;
}

}  // namespace

void add_prepare(CLI::App& app, Action& action) {
  auto args = std::make_shared<PrepareArgs>();
  auto* cmd = app.add_subcommand("prepare", "Tokenize a dataset source (wikitext103, pg19, pubmedqa, text), or build "
                                            "the passkey recall benchmark from one, into "
                                            "one HDF5 token file");
  cmd->add_option("config", args->config, "experiment yaml (data.* and tokenizer.path)")->check(CLI::ExistingFile);
  cmd->add_option("overrides", args->overrides, "key=value, +key=value, ~key, group=name");
  auto& f = args->flags;
  cmd->add_option("--dataset", f.dataset, "without CONFIG: wikitext103, pg19, pubmedqa, text or passkey")
      ->check(CLI::IsMember({"wikitext103", "pg19", "pubmedqa", "text", "passkey"}));
  cmd->add_option("--source", f.source, "without CONFIG: the dataset's folder or file");
  cmd->add_option("--tokenizer", f.tokenizer, "without CONFIG: tokenizer file or folder");
  cmd->add_option("--out", f.out, "without CONFIG: the .h5 file to write");
  cmd->add_option("--fuse-size", f.fuse_size, "without CONFIG, pubmedqa: records per joined context")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--splits", f.splits, "without CONFIG: splits to write (default: the dataset's)")->delimiter(',');
  cmd->add_option("--split-fractions", f.split_fractions, "without CONFIG, one-file sources: share per split")
      ->delimiter(',');
  cmd->add_option("--text-field", f.text_field, "without CONFIG, text .jsonl: the document field")
      ->capture_default_str();
  cmd->add_flag("--add-bos", f.add_bos, "without CONFIG: bos before every document");
  cmd->add_flag("--add-eos", f.add_eos, "without CONFIG: eos after every document");
  // The recall benchmark (data.passkey.*, data/sources/passkey.h).
  cmd->add_option("--filler", f.passkey_filler,
                  "without CONFIG, passkey: the format of --source (text, pg19, wikitext103)")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "pg19", "wikitext103"}));
  cmd->add_option("--samples", f.passkey_samples, "without CONFIG, passkey: samples per split (one, or one per split)")
      ->delimiter(',');
  cmd->add_option("--filler-tokens", f.passkey_filler_tokens,
                  "without CONFIG, passkey: filler tokens per split (at most)")
      ->capture_default_str();
  cmd->add_option("--segment-length", f.passkey.segment_length, "without CONFIG, passkey: L the distances count in")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--distances", f.passkey.distances, "without CONFIG, passkey: segments between fact and query")
      ->delimiter(',');
  cmd->add_option("--facts", f.passkey.facts, "without CONFIG, passkey: 1 = pass key, F > 1 = F facts, one asked")
      ->capture_default_str();
  cmd->add_option("--digits", f.passkey.digits, "without CONFIG, passkey: digits of a value")->capture_default_str();
  cmd->add_option("--lead-segments", f.passkey.lead_segments,
                  "without CONFIG, passkey: filler segments before the fact, uniform in [0, N]")
      ->capture_default_str();
  cmd->add_option("--question", f.passkey.question,
                  "without CONFIG, passkey: end = the cue before the answer only, start = also ask at the segment's "
                  "start")
      ->check(CLI::IsMember({"end", "start"}))
      ->capture_default_str();
  cmd->add_option("--ask", f.passkey.ask,
                  "without CONFIG, passkey: value = ask for the value, both = a coin per sample asks for the value "
                  "or the key (facts 1)")
      ->check(CLI::IsMember({"value", "both"}))
      ->capture_default_str();
  cmd->add_option("--seed", f.passkey.seed, "without CONFIG, passkey: generator seed")->capture_default_str();
  cmd->add_option("--threads", f.threads, "without CONFIG: tokenizer threads (0 = all cores)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--quiet", args->quiet, "no progress bar or warnings (the summary is still printed)");
  cmd->callback([&action, args] { action = [args] { return run_prepare(*args); }; });
}

}  // namespace hmt::cli
