#pragma once
// Collectives over NCCL for CUDA tensors; compiled only with
// -DHMT_WITH_NCCL=ON. CPU tensors and the scalar agreements (any, sums of
// doubles, barrier) go over the MPI communicator it was bootstrapped with.
#include <memory>

#include "trainer/dist/communicator.h"
#include "trainer/dist/mpi_communicator.h"

namespace hmt::dist {

// Rank 0 creates the ncclUniqueId and MPI carries it to the others. The GPU
// is device.index() when given, else the rank's position on its node modulo
// the visible GPUs.
std::unique_ptr<Communicator> make_nccl_communicator(std::unique_ptr<MpiCommunicator> mpi, const torch::Device& device,
                                                     double timeout_seconds);

}  // namespace hmt::dist
