#include "trainer/dist/communicator.h"

#include <fmt/ranges.h>

#include <cstdlib>
#include <exception>

#include "core/error.h"
#include "core/shape_text.h"
#include "trainer/dist/mpi_communicator.h"
#ifdef HMT_WITH_NCCL
#include "trainer/dist/nccl_communicator.h"
#endif

namespace hmt::dist {
namespace {

class DonePending : public PendingReduce {
 public:
  bool test() override { return true; }
  void wait() override {}
};

// One rank: every collective is the identity.
class SingleProcessCommunicator : public Communicator {
 public:
  int rank() const override { return 0; }
  int world() const override { return 1; }
  std::string backend() const override { return "single"; }
  void broadcast_(torch::Tensor& tensor, int root) override {
    HMT_CHECK(root == 0, "broadcast_: root {} does not exist in a single-process job", root);
  }
  void all_reduce_sum_(torch::Tensor&) override {}
  double all_reduce_sum(double value) override { return value; }
  bool any(bool value) override { return value; }
  void barrier() override {}
  std::unique_ptr<PendingReduce> start_all_reduce_sum_(torch::Tensor&, const std::string&) override {
    return std::make_unique<DonePending>();
  }
  [[noreturn]] void abort(const std::string& message) override { throw Error(message); }
};

}  // namespace

bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK", "MPI_LOCALNRANKS"})
    if (std::getenv(name)) return true;
  return false;
}

std::unique_ptr<Communicator> make_single_process_communicator() {
  return std::make_unique<SingleProcessCommunicator>();
}

std::unique_ptr<Communicator> make_communicator(const DistConfig& config, const torch::Device& device) {
  bool want_nccl = config.backend == DistBackend::Nccl || (config.backend == DistBackend::Auto && device.is_cuda());
#ifndef HMT_WITH_NCCL
  HMT_CHECK(config.backend != DistBackend::Nccl,
            "dist.backend: nccl, but this build has no NCCL communicator; configure with -DHMT_WITH_NCCL=ON "
            "(needs the CUDA toolkit and NCCL) or set dist.backend: mpi");
#endif
  HMT_CHECK(!(config.backend == DistBackend::Nccl && !device.is_cuda()),
            "dist.backend: nccl needs CUDA tensors, but runtime.device is {}; set runtime.device: cuda or "
            "dist.backend: mpi",
            device.str());
  if (!launched_by_mpi()) return make_single_process_communicator();
  auto mpi = std::make_unique<MpiCommunicator>(config.timeout);
#ifdef HMT_WITH_NCCL
  if (want_nccl) return make_nccl_communicator(std::move(mpi), device, config.timeout);
#else
  (void)want_nccl;
#endif
  return mpi;
}

int run_or_abort(Communicator& comm, const std::function<int()>& body) {
  if (comm.world() == 1) return body();
  try {
    return body();
  } catch (const std::exception& e) {
    comm.abort(e.what());
  }
  return 1;  // not reached: abort() ends the job (gcc does not trust [[noreturn]] on a virtual call)
}

std::string describe_tensor(const torch::Tensor& tensor) {
  return fmt::format("{} {}", c10::toString(tensor.scalar_type()), shape_text(tensor.sizes()));
}

}  // namespace hmt::dist
