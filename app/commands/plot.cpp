// hmt plot training RUN_DIR... --out PNG [--metric loss] [--labels a,b]
// hmt plot contexts EVAL.json... --out PNG [--labels a,b]
// PNG figures through gnuplot (eval/report_plots.h); the data and the
// gnuplot script are written beside the PNG.
#include <cstdio>

#include "app/commands/commands.h"
#include "app/commands/text_io.h"
#include "core/error.h"
#include "eval/report_plots.h"

namespace hmt::cli {
namespace {

struct PlotArgs {
  std::vector<std::string> inputs, labels;
  std::string out, metric = "loss";
};

int finish(const std::string& problem, const std::string& out) {
  if (!problem.empty()) {
    std::fprintf(stderr, "error: %s\n", problem.c_str());
    return 1;
  }
  std::printf("wrote %s\n", out.c_str());
  return 0;
}

}  // namespace

void add_plot(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("plot", "PNG figures: training curves of runs, PPL against context length");
  cmd->require_subcommand(1);

  auto training = std::make_shared<PlotArgs>();
  auto* t = cmd->add_subcommand("training", "a metric of metrics.jsonl against the global step, one line per run");
  t->add_option("runs", training->inputs, "run directories")->required()->check(CLI::ExistingDirectory);
  t->add_option("--out", training->out, "PNG file")->required();
  t->add_option("--metric", training->metric, "loss, ppl, grad_norm, tokens_per_s, valid_ppl, valid_loss, ...")
      ->capture_default_str();
  t->add_option("--labels", training->labels, "one label per run")->delimiter(',');
  t->callback([&action, training] {
    action = [training] {
      return finish(plot_training_curves(training->inputs, training->labels, training->metric, training->out),
                    training->out);
    };
  });

  auto contexts = std::make_shared<PlotArgs>();
  auto* c = cmd->add_subcommand("contexts", "PPL against context length from hmt eval reports (eval.json)");
  c->add_option("reports", contexts->inputs, "eval.json files")->required()->check(CLI::ExistingFile);
  c->add_option("--out", contexts->out, "PNG file")->required();
  c->add_option("--labels", contexts->labels, "one label per report")->delimiter(',');
  c->callback([&action, contexts] {
    action = [contexts] {
      std::vector<nlohmann::json> reports;
      for (const auto& path : contexts->inputs) {
        try {
          reports.push_back(nlohmann::json::parse(read_file(path)));
        } catch (const nlohmann::json::exception& e) {
          fail("{}: not a JSON eval report: {}", path, e.what());
        }
      }
      return finish(plot_context_curves(reports, contexts->labels, contexts->out), contexts->out);
    };
  });
}

}  // namespace hmt::cli
