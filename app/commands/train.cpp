// hmt train CONFIG [overrides] [--resume | --init-from DIR]: every stage of
// train.stages (trainer/trainer.h), one rank or many under mpirun.
#include <cstdio>

#include "app/commands/commands.h"
#include "core/config.h"
#include "trainer/dist/communicator.h"
#include "trainer/progress.h"
#include "trainer/trainer.h"

namespace hmt::cli {
namespace {

struct TrainArgs {
  std::string config;
  std::vector<std::string> overrides;
  bool resume = false;
  std::string init_from;
  bool dry_run = false;
};

int run_train(const TrainArgs& args) {
  ExperimentConfig experiment = load_experiment(args.config, args.overrides);
  if (args.dry_run) {
    // Composition, overrides and validation only: no rank, file or model is touched.
    std::printf("%s\n", to_yaml(experiment).c_str());
    return 0;
  }
  auto comm = dist::make_communicator(experiment.dist, torch::Device(experiment.runtime.device));
  if (comm->rank() == 0) std::printf("# resolved config\n%s\n", to_yaml(experiment).c_str());
  std::fflush(stdout);
  TrainOptions options;
  options.resume = args.resume;
  options.init_from = args.init_from;
  options.terminal = stderr_is_terminal();
  // An error on one rank ends every rank (instead of leaving them waiting
  // in a collective); in one process it reaches main() as usual.
  return dist::run_or_abort(*comm, [&] {
    TrainResult result = train(experiment, options, *comm);
    if (comm->rank() == 0 && result.exit_code == 0)
      std::printf("done: %lld steps; last checkpoint %s\n", static_cast<long long>(result.global_step),
                  result.last_checkpoint.c_str());
    return result.exit_code;
  });
}

}  // namespace

void add_train(CLI::App& app, Action& action) {
  auto args = std::make_shared<TrainArgs>();
  auto* cmd = app.add_subcommand("train", "Train HMT: the stages of train.stages (backbone, stage1, stage2) in order; "
                                          "under mpirun data-parallel over the ranks");
  cmd->add_option("config", args->config, "experiment yaml")->required()->check(CLI::ExistingFile);
  cmd->add_option("overrides", args->overrides, "key=value, +key=value, ~key, group=name");
  auto* resume = cmd->add_flag("--resume", args->resume,
                               "continue from the newest valid checkpoint in the run directory (also done without "
                               "the flag when the run directory has checkpoints)");
  cmd->add_option("--init-from", args->init_from, "weights only, from a checkpoint or an HF model directory")
      ->check(CLI::ExistingDirectory)
      ->excludes(resume);
  cmd->add_flag("--dry-run", args->dry_run, "resolve and validate the config, print it and exit (nothing runs)");
  cmd->callback([&action, args] { action = [args] { return run_train(*args); }; });
}

}  // namespace hmt::cli
