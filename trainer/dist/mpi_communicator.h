#pragma once
// Collectives over MPI for CPU tensors (CUDA tensors are staged through host
// memory; the NCCL communicator is the fast path for those). Every call runs
// under the watchdog, so a collective that a dead or stuck rank never joins
// aborts the job after dist.timeout seconds.
#include <mpi.h>

#include <memory>
#include <string>

#include "trainer/dist/communicator.h"
#include "trainer/dist/watchdog.h"

namespace hmt::dist {

// MPI_Init_thread once per process, asking for MPI_THREAD_MULTIPLE because
// the watchdog thread calls MPI_Abort while the main thread sits in a
// collective; MPI_Finalize runs at exit.
void ensure_mpi_initialized();

// Prints "error: <message>" to stderr and ends every rank (MPI_Abort, exit 1).
[[noreturn]] void abort_mpi_job(const std::string& message);

class MpiCommunicator : public Communicator {
 public:
  // A duplicate of MPI_COMM_WORLD, so that its messages never match another
  // communicator's, with errors returned to HMT_MPI_CHECK instead of MPI's
  // default of aborting without a word.
  explicit MpiCommunicator(double timeout_seconds);
  ~MpiCommunicator() override;
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  int rank() const override { return rank_; }
  int world() const override { return world_; }
  std::string backend() const override { return "mpi"; }
  void broadcast_(torch::Tensor& tensor, int root) override;
  void all_reduce_sum_(torch::Tensor& tensor) override;
  double all_reduce_sum(double value) override;
  bool any(bool value) override;
  void barrier() override;
  std::unique_ptr<PendingReduce> start_all_reduce_sum_(torch::Tensor& tensor, const std::string& what) override;
  [[noreturn]] void abort(const std::string& message) override;

  MPI_Comm comm() const { return comm_; }
  Watchdog& watchdog() { return *watchdog_; }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, world_ = 1;
  std::unique_ptr<Watchdog> watchdog_;
};

}  // namespace hmt::dist
