#include "data/store/loader_benchmark.h"

#include <chrono>

namespace hmt {

LoaderBenchmark run_loader_benchmark(const LoaderOptions& options, int64_t batches) {
  using clock = std::chrono::steady_clock;
  LoaderBenchmark result;
  auto start = clock::now();
  Loader loader(options);
  loader.next();  // warm-up: the first permutation and chunk reads
  result.open_seconds = std::chrono::duration<double>(clock::now() - start).count();
  start = clock::now();
  for (int64_t b = 0; b < batches; ++b) {
    Batch batch = loader.next();
    result.tokens += batch.ids.numel();
  }
  result.seconds = std::chrono::duration<double>(clock::now() - start).count();
  result.batches = batches;
  return result;
}

}  // namespace hmt
