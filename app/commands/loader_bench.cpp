// hmt loader-bench FILE.h5: batches/s and tokens/s of the data loader on a
// prepared file (scripts/bench/data_bench.sh compares them with the
// training step of `hmt bench`).
#include <cstdio>

#include "app/commands/commands.h"
#include "data/store/loader_benchmark.h"

namespace hmt::cli {
namespace {

struct LoaderBenchArgs {
  LoaderOptions loader;
  int64_t batches = 2000;
};

int run_loader_bench(const LoaderBenchArgs& args) {
  for (bool shuffle : {true, false}) {
    LoaderOptions options = args.loader;
    options.shuffle = shuffle;
    auto r = run_loader_benchmark(options, args.batches);
    std::printf("%s split %s, S %lld x L %lld (+1), batch %lld, rank %d of %d, %s: %lld batches in %.3f s: "
                "%.1f batches/s, %.0f tokens/s (open %.3f s)\n",
                options.path.c_str(), options.split.c_str(), static_cast<long long>(options.segments),
                static_cast<long long>(options.segment_length), static_cast<long long>(options.batch_size),
                options.rank, options.world, shuffle ? "shuffled" : "file order", static_cast<long long>(r.batches),
                r.seconds, r.batches_per_second(), r.tokens_per_second(), r.open_seconds);
  }
  return 0;
}

}  // namespace

void add_loader_bench(CLI::App& app, Action& action) {
  auto args = std::make_shared<LoaderBenchArgs>();
  auto& o = args->loader;
  o.segments = 2;
  o.segment_length = 64;
  o.batch_size = 2;
  auto* cmd = app.add_subcommand("loader-bench", "Data loader throughput on a prepared file: batches/s, tokens/s");
  cmd->add_option("file", o.path, "prepared .h5 (hmt prepare)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--split", o.split, "split to read")->capture_default_str();
  cmd->add_option("--segments", o.segments, "S")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--segment-length", o.segment_length, "L")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--batch", o.batch_size, "B per rank")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--world", o.world, "ranks W (this process is rank 0)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--cross-document", o.cross_document, "windows across documents");
  cmd->add_option("--batches", args->batches, "timed batches")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->callback([&action, args] { action = [args] { return run_loader_bench(*args); }; });
}

}  // namespace hmt::cli
