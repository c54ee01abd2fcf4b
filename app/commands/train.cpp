// hmt train CONFIG [overrides]: resolves and validates the experiment and
// saves it in the run directory. The training loop lands with issue 5.
#include <cstdio>

#include "app/commands/commands.h"
#include "core/config.h"

namespace hmt::cli {
namespace {

struct TrainArgs {
  std::string config;
  std::vector<std::string> overrides;
  bool resume = false;
  std::string init_from;
};

int run_train(const TrainArgs& args) {
  ExperimentConfig experiment = load_experiment(args.config, args.overrides);
  std::printf("# resolved config\n%s\n", to_yaml(experiment).c_str());
  save_resolved_config(experiment, experiment.runtime.run_dir);
  std::printf("saved %s/config.yaml\n", experiment.runtime.run_dir.c_str());
  return not_built("train (the training loop)", "issue 5");
}

}  // namespace

void add_train(CLI::App& app, Action& action) {
  auto args = std::make_shared<TrainArgs>();
  auto* cmd = app.add_subcommand("train", "Train HMT: stage 1 then stage 2 (config is resolved and saved; "
                                          "the loop is not built yet)");
  cmd->add_option("config", args->config, "experiment yaml")->required()->check(CLI::ExistingFile);
  cmd->add_option("overrides", args->overrides, "key=value, +key=value, ~key, group=name");
  cmd->add_flag("--resume", args->resume, "continue from the newest valid checkpoint in the run directory");
  cmd->add_option("--init-from", args->init_from, "weights only, from a checkpoint or an HF model directory");
  cmd->callback([&action, args] { action = [args] { return run_train(*args); }; });
}

}  // namespace hmt::cli
