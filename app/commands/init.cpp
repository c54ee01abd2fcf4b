// hmt init CONFIG [overrides] --out DIR: a randomly initialised backbone,
// written as an HF model directory (the start of a from-scratch run).
#include <torch/torch.h>

#include <cstdio>

#include "app/commands/commands.h"
#include "core/config.h"
#include "core/error.h"
#include "core/runtime.h"
#include "model/backbone.h"
#include "model/scratch_config.h"

namespace hmt::cli {
namespace {

struct InitArgs {
  std::string config;
  std::vector<std::string> overrides;
  std::string out;
};

int run_init(const InitArgs& args) {
  ExperimentConfig experiment = load_experiment(args.config, args.overrides);
  std::printf("# resolved config\n%s\n", to_yaml(experiment).c_str());
  HMT_CHECK(experiment.model.pretrained.empty(),
            "{}: model.pretrained is set ('{}'): `hmt init` builds a random backbone from model.type; "
            "use the pretrained directory directly instead",
            args.config, experiment.model.pretrained);
  apply_threads(experiment.runtime.threads);
  torch::manual_seed(experiment.runtime.seed);
  auto backbone = make_backbone(scratch_backbone_config(experiment.model));
  save_backbone(*backbone, args.out);
  int64_t parameters = 0;
  for (const auto& p : backbone->parameters()) parameters += p.numel();
  std::printf("wrote a random %s backbone (%lld parameters, seed %llu) to %s\n",
              backbone->config().family_name().c_str(), static_cast<long long>(parameters),
              static_cast<unsigned long long>(experiment.runtime.seed), args.out.c_str());
  return 0;
}

}  // namespace

void add_init(CLI::App& app, Action& action) {
  auto args = std::make_shared<InitArgs>();
  auto* cmd = app.add_subcommand("init", "Write a randomly initialised backbone (from the config's model section) "
                                         "as an HF model directory");
  cmd->add_option("config", args->config, "experiment yaml")->required()->check(CLI::ExistingFile);
  cmd->add_option("overrides", args->overrides, "key=value, +key=value, ~key, group=name");
  cmd->add_option("--out", args->out, "output model directory")->required();
  cmd->callback([&action, args] { action = [args] { return run_init(*args); }; });
}

}  // namespace hmt::cli
