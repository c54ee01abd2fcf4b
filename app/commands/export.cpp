// hmt export RUN_DIR_OR_CHECKPOINT --out DIR [--tokenizer FILE]: the export
// directory of docs/hmt.md section 8 (LoRA merged, tokenizer copied); a
// backbone-stage run exports a plain HF model directory.
#include <cstdio>
#include <filesystem>

#include "app/commands/commands.h"
#include "core/error.h"
#include "eval/eval_model.h"
#include "model/hmt_export.h"

namespace hmt::cli {
namespace {

struct ExportArgs {
  std::string source, out, tokenizer;
  bool force = false;
};

// An export holds a trained model: writing over one must be asked for.
void check_out_dir(const ExportArgs& args) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(args.out, ec) || fs::is_empty(args.out, ec) || args.force) return;
  std::string listed;
  int shown = 0;
  for (const auto& entry : fs::directory_iterator(args.out, ec)) {
    if (shown++ == 3) {
      listed += ", ...";
      break;
    }
    listed += (listed.empty() ? "" : ", ") + entry.path().filename().string();
  }
  fail("{}: the directory is not empty ({}); pass --force to replace {} with this export", args.out, listed,
       is_hmt_export(args.out) ? "the export in it" : "its files");
}

int run_export(const ExportArgs& args) {
  namespace fs = std::filesystem;
  check_out_dir(args);
  EvalModel loaded = load_eval_model(args.source);
  HMT_CHECK(loaded.kind == "checkpoint" || loaded.kind == "export",
            "{}: expected a run directory or checkpoint to export", args.source);
  const std::string tokenizer = args.tokenizer.empty() ? loaded.tokenizer_path : args.tokenizer;
  if (tokenizer.empty())
    std::fprintf(stderr,
                 "warning: %s: no tokenizer known (tokenizer.path unset or missing); the export will hold "
                 "ids only (pass --tokenizer FILE)\n",
                 args.source.c_str());
  if (loaded.hmt_trained) {
    save_hmt_export(*loaded.model, args.out, tokenizer);
  } else {
    HMT_CHECK(!is_hmt_export(args.out),
              "{}: holds an HMT export; a backbone-stage run exports a plain HF "
              "directory, so choose another --out",
              args.out);
    save_backbone_export(*loaded.model, args.out, tokenizer);
  }
  const auto& config = loaded.model->config();
  std::printf("exported %s (%s%s) -> %s: %s\n", loaded.source.c_str(), loaded.kind.c_str(),
              loaded.stage.empty() ? "" : (", stage " + loaded.stage).c_str(), args.out.c_str(),
              loaded.hmt_trained ? fmt::format("HMT export, L = {}, k = {}, recall {}", config.segment_length,
                                               config.num_sensory, config.recall.enabled ? "on" : "off")
                                       .c_str()
                                 : "plain HF model directory (backbone stage)");
  return 0;
}

}  // namespace

void add_export(CLI::App& app, Action& action) {
  auto args = std::make_shared<ExportArgs>();
  auto* cmd = app.add_subcommand("export",
                                 "Write an HMT export directory (docs/hmt.md section 8) from a run or checkpoint: "
                                 "LoRA merged, tokenizer copied");
  cmd->add_option("source", args->source, "run directory (its newest valid checkpoint) or checkpoint directory")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--out", args->out, "export directory (created; a non-empty one only with --force)")->required();
  cmd->add_flag("--force", args->force, "replace the files of an existing export in --out (each atomically)");
  cmd->add_option("--tokenizer", args->tokenizer, "tokenizer file to copy; default: the run's tokenizer.path")
      ->check(CLI::ExistingFile);
  cmd->callback([&action, args] { action = [args] { return run_export(*args); }; });
}

}  // namespace hmt::cli
