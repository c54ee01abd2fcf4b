// Temporary: subcommands being wired in this change.
#include "app/commands/commands.h"

namespace hmt::cli {
void add_train(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("train", "Train HMT (not built yet)");
  cmd->allow_extras();
  cmd->callback([&action] { action = [] { return not_built("train", "issue 5"); }; });
}
void add_score(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("score", "Score a document (not built yet)");
  cmd->allow_extras();
  cmd->callback([&action] { action = [] { return not_built("score", "issue 2"); }; });
}
void add_tokenizer(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("tokenizer", "Tokenizer tools (not built yet)");
  cmd->allow_extras();
  cmd->callback([&action] { action = [] { return not_built("tokenizer", "issue 2"); }; });
}
void add_init(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("init", "Random backbone (not built yet)");
  cmd->allow_extras();
  cmd->callback([&action] { action = [] { return not_built("init", "issue 2"); }; });
}
}  // namespace hmt::cli
