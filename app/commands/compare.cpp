// hmt compare --eval LABEL=eval.json ... [--run LABEL=RUN_DIR ...]
// Markdown tables side by side (eval/comparison.h).
#include <cstdio>

#include "app/commands/commands.h"
#include "app/commands/text_io.h"
#include "core/error.h"
#include "eval/comparison.h"

namespace hmt::cli {
namespace {

struct CompareArgs {
  std::vector<std::string> evals, runs;
};

int run_compare(const CompareArgs& args) {
  HMT_CHECK(!args.evals.empty() || !args.runs.empty(), "compare: give --eval LABEL=FILE and/or --run LABEL=DIR");
  if (!args.evals.empty()) {
    std::vector<std::pair<std::string, nlohmann::json>> reports;
    for (const auto& argument : args.evals) {
      auto [label, path] = parse_labeled(argument, "--eval");
      try {
        reports.emplace_back(label, nlohmann::json::parse(read_file(path)));
      } catch (const nlohmann::json::exception& e) {
        fail("{}: not a JSON eval report: {}", path, e.what());
      }
    }
    const std::string ppl = compare_evaluations(reports), recall = compare_recall(reports);
    HMT_CHECK(!ppl.empty() || !recall.empty(), "compare: no report has context, document or recall results");
    std::fputs((ppl + (ppl.empty() || recall.empty() ? "" : "\n") + recall).c_str(), stdout);
  }
  if (!args.runs.empty()) {
    std::vector<Labeled> runs;
    for (const auto& argument : args.runs) runs.push_back(parse_labeled(argument, "--run"));
    if (!args.evals.empty()) std::fputs("\n", stdout);
    std::fputs(compare_runs(runs).c_str(), stdout);
  }
  return 0;
}

}  // namespace

void add_compare(CLI::App& app, Action& action) {
  auto args = std::make_shared<CompareArgs>();
  auto* cmd = app.add_subcommand("compare", "Markdown tables of several models side by side: PPL by context (or "
                                            "recall accuracy by distance) from hmt eval reports, training figures "
                                            "from run directories");
  cmd->add_option("--eval", args->evals, "LABEL=eval.json (hmt eval --out writes one); repeatable");
  cmd->add_option("--run", args->runs, "LABEL=RUN_DIR; repeatable");
  cmd->callback([&action, args] { action = [args] { return run_compare(*args); }; });
}

}  // namespace hmt::cli
