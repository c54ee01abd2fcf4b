// The hmt executable: wires the subcommands of the library together.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

#include "app/commands/commands.h"
#include "core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"hmt: Hierarchical Memory Transformers, training and serving"};
  app.require_subcommand(1);
  hmt::cli::Action action;
  hmt::cli::add_train(app, action);
  hmt::cli::add_prepare(app, action);
  hmt::cli::add_loader_bench(app, action);
  hmt::cli::add_eval(app, action);
  hmt::cli::add_score(app, action);
  hmt::cli::add_export(app, action);
  hmt::cli::add_generate(app, action);
  hmt::cli::add_tokenizer(app, action);
  hmt::cli::add_bench(app, action);
  hmt::cli::add_init(app, action);
  hmt::cli::add_keys(app, action);
  hmt::cli::add_plot(app, action);
  hmt::cli::add_compare(app, action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return action ? action() : 2;
  } catch (const hmt::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
