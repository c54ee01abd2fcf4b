#pragma once
// Process-wide runtime settings. LibTorch 1.13 as packaged here starts with a
// single intra-op thread, so the thread count is always set explicitly.
namespace hmt {

// Ranks sharing this node, from the launcher's environment (OpenMPI, MPICH,
// SLURM); 1 when not launched by one.
int local_ranks_on_node();

// `configured` > 0 is used as is; 0 means hardware cores / local ranks (>= 1).
int resolve_threads(int configured);

// Sets LibTorch intra-op threads (and OpenMP's, which OpenBLAS follows);
// returns the count set.
int apply_threads(int configured);

}  // namespace hmt
