#include <cstdio>

#include "app/commands/commands.h"

namespace hmt::cli {

int not_built(const char* command, const char* issue) {
  std::fprintf(stderr, "hmt %s: not built yet (tracked in %s)\n", command, issue);
  return 2;
}

void add_eval(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("eval", "Perplexity over long documents (not built yet)");
  cmd->allow_extras();
  cmd->callback([&action] { action = [] { return not_built("eval", "issue 6"); }; });
}

void add_export(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("export", "Write an HMT export directory (not built yet)");
  cmd->allow_extras();
  cmd->callback([&action] { action = [] { return not_built("export", "issue 6"); }; });
}

}  // namespace hmt::cli
