#pragma once
// Loader throughput (scripts/bench/data_bench.sh): batches and tokens per
// second that one rank's Loader delivers, timed over `batches` next() calls
// after one warm-up batch. Not a test: a measurement.
#include <cstdint>

#include "data/store/loader.h"

namespace hmt {

struct LoaderBenchmark {
  int64_t batches = 0;
  int64_t tokens = 0;       // ids delivered (B x T per batch, padding included)
  double open_seconds = 0;  // Loader construction: open, index, first permutation
  double seconds = 0;       // the timed next() calls
  double batches_per_second() const { return batches / seconds; }
  double tokens_per_second() const { return tokens / seconds; }
};

LoaderBenchmark run_loader_benchmark(const LoaderOptions& options, int64_t batches);

}  // namespace hmt
