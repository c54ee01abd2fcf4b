#pragma once
// Each subcommand registers itself on the CLI11 app; main() only wires them.
#include <CLI/CLI.hpp>

#include <functional>

namespace hmt::cli {

// A registered subcommand runs through this after parsing; its return value
// is the process exit code.
using Action = std::function<int()>;

void add_train(CLI::App& app, Action& action);
void add_prepare(CLI::App& app, Action& action);
void add_loader_bench(CLI::App& app, Action& action);
void add_eval(CLI::App& app, Action& action);
void add_score(CLI::App& app, Action& action);
void add_export(CLI::App& app, Action& action);
void add_generate(CLI::App& app, Action& action);
void add_tokenizer(CLI::App& app, Action& action);
void add_bench(CLI::App& app, Action& action);
void add_init(CLI::App& app, Action& action);
void add_keys(CLI::App& app, Action& action);
void add_plot(CLI::App& app, Action& action);
void add_compare(CLI::App& app, Action& action);

}  // namespace hmt::cli
