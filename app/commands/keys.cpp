// hmt keys: the config key reference (the table of docs/configs.md), from
// the typed schema; scripts/update_config_docs.sh splices it into the docs.
#include <cstdio>

#include "app/commands/commands.h"
#include "core/config.h"

namespace hmt::cli {

void add_keys(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("keys", "Print every config key with type, default, allowed values and meaning "
                                         "(markdown table)");
  cmd->callback([&action] {
    action = [] {
      std::fputs(describe_experiment_keys().c_str(), stdout);
      return 0;
    };
  });
}

}  // namespace hmt::cli
