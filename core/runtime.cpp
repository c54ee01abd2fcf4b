#include "core/runtime.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

namespace hmt {

int local_ranks_on_node() {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"}) {
    if (const char* value = std::getenv(name)) {
      int n = std::atoi(value);
      if (n > 0) return n;
    }
  }
  return 1;
}

int resolve_threads(int configured) {
  if (configured > 0) return configured;
  int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, cores / local_ranks_on_node());
}

int apply_threads(int configured) {
  int threads = resolve_threads(configured);
  torch::set_num_threads(threads);
  return threads;
}

}  // namespace hmt
