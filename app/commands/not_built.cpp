#include <cstdio>

#include "app/commands/commands.h"

namespace hmt::cli {

int not_built(const char* command, const char* issue) {
  std::fprintf(stderr, "hmt %s: not built yet (tracked in %s)\n", command, issue);
  return 2;
}

void add_generate(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("generate", "Sample a continuation with memory (not built yet)");
  cmd->allow_extras();
  cmd->callback([&action] { action = [] { return not_built("generate", "issue 6"); }; });
}

}  // namespace hmt::cli
