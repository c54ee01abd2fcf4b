#pragma once
// The ranks of a data-parallel job and their collectives (docs/distributed.md).
// One interface, three implementations: a single process (no MPI at all, so
// the binary runs without mpirun), MPI (CPU tensors; launched by mpirun or
// srun) and NCCL (CUDA tensors, built with -DHMT_WITH_NCCL=ON, bootstrapped
// over MPI). Every collective is blocking unless it says otherwise, and every
// rank must call the same collectives in the same order.
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>

#include "core/experiment_config.h"

namespace hmt::dist {

// An all-reduce in flight. The tensor it was started on must stay alive and
// untouched until wait() returns (or test() returned true); it then holds the
// sum over ranks.
class PendingReduce {
 public:
  virtual ~PendingReduce() = default;
  // Whether it has finished. Also drives progress: MPI advances a
  // non-blocking collective only inside MPI calls.
  virtual bool test() = 0;
  virtual void wait() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world() const = 0;
  // "single", "mpi" or "nccl".
  virtual std::string backend() const = 0;

  virtual void broadcast_(torch::Tensor& tensor, int root) = 0;  // in place
  virtual void all_reduce_sum_(torch::Tensor& tensor) = 0;       // in place, blocking
  virtual double all_reduce_sum(double value) = 0;
  virtual bool any(bool value) = 0;  // true on every rank when true on one (stop agreement)
  virtual void barrier() = 0;

  // Non-blocking in-place sum of a contiguous tensor; `what` names it in a
  // timeout message (e.g. "gradient bucket 3 (4.0 MiB)").
  virtual std::unique_ptr<PendingReduce> start_all_reduce_sum_(torch::Tensor& tensor, const std::string& what) = 0;

  // Ends the whole job with `message` (prefixed with the rank) on stderr and
  // a non-zero exit of every rank (MPI_Abort). A single process throws
  // hmt::Error(message) instead, so that main() reports it as usual.
  [[noreturn]] virtual void abort(const std::string& message) = 0;
};

// Whether this process was started by an MPI launcher (OpenMPI's mpirun,
// MPICH/Hydra, srun with PMI/PMIx), judged from the launcher's environment.
bool launched_by_mpi();

// MPI when launched_by_mpi(), else a single-process communicator; NCCL for
// a CUDA `device` when built with HMT_WITH_NCCL and config.backend allows
// (the ncclUniqueId travels over MPI). dist.backend: nccl in a build without
// NCCL, or with a CPU device, is an error.
std::unique_ptr<Communicator> make_communicator(const DistConfig& config, const torch::Device& device);

// The single-process communicator, for callers that never want MPI.
std::unique_ptr<Communicator> make_single_process_communicator();

// Runs `body`. With several ranks an exception on one rank ends the whole job
// through comm.abort(rank + its text), instead of leaving the others waiting
// in their next collective; with one rank it propagates unchanged.
int run_or_abort(Communicator& comm, const std::function<int()>& body);

// "Float [4096, 128]" for messages.
std::string describe_tensor(const torch::Tensor& tensor);

}  // namespace hmt::dist
