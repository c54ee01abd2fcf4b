// hmt eval MODEL --data FILE.h5 [--split test] [--mode hmt,rmt,backbone,full]
//   [--contexts 2048,10240] [--windows 32] [--score-after X] [--documents] [--interleave-len C]
//   [--out DIR] [--json]
// MODEL is an HMT export, a run directory, a checkpoint or (backbone mode,
// with --segment-length) a plain HF directory. eval/evaluation.h does the work.
#include <cstdio>

#include "app/commands/commands.h"
#include "core/runtime.h"
#include "eval/evaluation.h"

namespace hmt::cli {
namespace {

struct EvalArgs {
  EvalRequest request;
  int threads = 0;
  bool json = false;
};

int run_eval(const EvalArgs& args) {
  apply_threads(args.threads);
  auto report = run_evaluation(args.request,
                               [](const std::string& line) { std::fprintf(stderr, "eval: %s\n", line.c_str()); });
  if (args.json) {
    std::printf("%s\n", report.dump().c_str());
  } else {
    std::fputs(format_evaluation(report).c_str(), stdout);
    if (!args.request.out_dir.empty()) std::printf("wrote %s/eval.json\n", args.request.out_dir.c_str());
  }
  return 0;
}

}  // namespace

void add_eval(CLI::App& app, Action& action) {
  auto args = std::make_shared<EvalArgs>();
  auto& r = args->request;
  auto* cmd = app.add_subcommand(
      "eval", "Perplexity over long documents (at context lengths, whole documents, PubMedQA) in hmt, rmt or "
              "backbone mode, with the recall distance histogram");
  cmd->add_option("model", r.model_path, "HMT export, run directory, checkpoint, or HF model directory")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--data", r.data_path, "prepared token file (hmt prepare)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--split", r.split, "split of the file")->capture_default_str();
  cmd->add_option("--mode", r.modes,
                  "hmt, rmt (memory only), backbone (segment-limited, no memory) or full (the backbone "
                  "reading history and segment in one attention window; --contexts only) or hmt-oracle "
                  "(recall samples: the query's recall returns the asked fact's memory, what a perfect pick "
                  "would score); several separated by commas; default: what the model was trained as")
      ->delimiter(',')
      ->check(CLI::IsMember({"hmt", "rmt", "backbone", "full", hmt::kOracleMode}));
  cmd->add_option("--contexts", r.contexts,
                  "PPL of one segment after X tokens of history, for each X (rounded up "
                  "to a multiple of L), e.g. 2048,10240")
      ->delimiter(',')
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--windows", r.windows, "scored segments per context length (the same ones at every X)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--score-after", r.score_after,
                  "score segments from this stream offset on (rounded up to a multiple of L) instead of from "
                  "the largest context, to score what an evaluation at longer contexts scored")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--batch", r.batch, "windows (or QA samples) per forward")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--documents", r.documents, "PPL over whole documents (the default without --contexts)");
  cmd->add_option("--max-documents", r.max_documents, "documents to evaluate; 0 = all")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-document-tokens", r.max_document_tokens, "each document's first N tokens; 0 = whole")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--task", r.task,
                  "auto (from the split), ppl, qa (PubMedQA) or recall (a passkey file: exact match by distance)")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "ppl", "qa", "recall"}));
  cmd->add_option("--max-samples", r.max_samples, "PubMedQA or recall samples; 0 = all")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--interleave-len", r.interleave_len,
                  "topic switching: documents 2k, 2k+1 interleaved every C "
                  "tokens (0 = off)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--dilate-len", r.dilate_len, "dilation: D filler tokens after every D tokens (0 = off)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--segment-length", r.segment_length, "L for a plain HF model directory (backbone mode)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--out", r.out_dir, "write eval.json and recall_histogram_<mode>.png (+ .dat, .gp) here");
  cmd->add_flag("--json", args->json, "print the report as one JSON object instead of the table");
  cmd->add_option("--threads", args->threads, "intra-op threads (0 = cores / ranks on the node)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->callback([&action, args] { action = [args] { return run_eval(*args); }; });
}

}  // namespace hmt::cli
