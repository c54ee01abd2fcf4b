// hmt plot training RUN_DIR... --out PNG [--metric loss] [--ema 0.9] [--log-y] [--labels a,b]
// hmt plot contexts EVAL.json... --out PNG [--labels a,b]
// hmt plot recall EVAL.json... --out PNG [--labels a,b]
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
  std::string out;
  TrainingPlotOptions training;
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
  auto* cmd =
      app.add_subcommand("plot",
                         "PNG figures: training curves of runs, PPL against context length, recall against distance");
  cmd->require_subcommand(1);

  auto training = std::make_shared<PlotArgs>();
  auto* t = cmd->add_subcommand("training", "a metric of metrics.jsonl against the global step, one line per run");
  t->add_option("runs", training->inputs, "run directories")->required()->check(CLI::ExistingDirectory);
  t->add_option("--out", training->out, "PNG file")->required();
  t->add_option("--metric", training->training.metric, "loss, ppl, grad_norm, tokens_per_s, valid_ppl, valid_loss, ...")
      ->capture_default_str();
  t->add_option("--ema", training->training.ema,
                "weight of the history in a moving average of the training rows (0 = raw; validation rows are "
                "never smoothed)")
      ->check(CLI::Range(0.0, 0.999))
      ->capture_default_str();
  t->add_flag("--log-y", training->training.log_y, "logarithmic y axis");
  t->add_option("--labels", training->labels, "one label per run")->delimiter(',');
  t->callback([&action, training] {
    action = [training] {
      return finish(plot_training_curves(training->inputs, training->labels, training->training, training->out),
                    training->out);
    };
  });

  using ReportPlot = std::string (*)(const std::vector<nlohmann::json>&, const std::vector<std::string>&,
                                     const std::string&);
  auto add_report_plot = [&](const char* name, const char* help, ReportPlot plot) {
    auto args = std::make_shared<PlotArgs>();
    auto* c = cmd->add_subcommand(name, help);
    c->add_option("reports", args->inputs, "eval.json files")->required()->check(CLI::ExistingFile);
    c->add_option("--out", args->out, "PNG file")->required();
    c->add_option("--labels", args->labels, "one label per report")->delimiter(',');
    c->callback([&action, args, plot] {
      action = [args, plot] {
        std::vector<nlohmann::json> reports;
        for (const auto& path : args->inputs) {
          try {
            reports.push_back(nlohmann::json::parse(read_file(path)));
          } catch (const nlohmann::json::exception& e) {
            fail("{}: not a JSON eval report: {}", path, e.what());
          }
        }
        return finish(plot(reports, args->labels, args->out), args->out);
      };
    });
  };
  add_report_plot("contexts", "PPL against context length from hmt eval reports (eval.json)", plot_context_curves);
  add_report_plot("recall", "recall accuracy against fact distance from hmt eval reports on a passkey split",
                  plot_recall_curves);
}

}  // namespace hmt::cli
