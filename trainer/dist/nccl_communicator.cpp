#include "trainer/dist/nccl_communicator.h"

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <atomic>
#include <thread>

// A CUDA LibTorch orders its kernels on its current stream; collectives go on
// that stream too, so they follow the kernels that wrote their input. A CPU
// LibTorch (this project's CI) has no CUDA tensors to order against; the code
// then compiles against raw device pointers and a stream of its own.
#ifdef HMT_TORCH_CUDA
#include <c10/cuda/CUDAStream.h>
#endif

#include "core/c_api_check.h"
#include "core/error.h"
#include "trainer/dist/staged_pending.h"
#include "trainer/dist/watchdog.h"

namespace hmt::dist {
namespace {

ncclDataType_t nccl_type(torch::ScalarType type) {
  switch (type) {
    case torch::kFloat: return ncclFloat32;
    case torch::kDouble: return ncclFloat64;
    case torch::kHalf: return ncclFloat16;
    case torch::kBFloat16: return ncclBfloat16;
    case torch::kInt: return ncclInt32;
    case torch::kLong: return ncclInt64;
    case torch::kChar: return ncclInt8;
    case torch::kByte: return ncclUint8;
    default: fail("NCCL collectives: no NCCL type for tensors of {}", c10::toString(type));
  }
}

// The rank's position among the ranks of its node.
int node_local_rank(MPI_Comm comm) {
  MPI_Comm node = MPI_COMM_NULL;
  HMT_MPI_CHECK(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, /*key=*/0, MPI_INFO_NULL, &node));
  int local = 0;
  HMT_MPI_CHECK(MPI_Comm_rank(node, &local));
  HMT_MPI_CHECK(MPI_Comm_free(&node));
  return local;
}

class NcclCommunicator;

// A contiguous view of a CUDA tensor; a copy is written back when finished.
struct DeviceBuffer {
  explicit DeviceBuffer(torch::Tensor& tensor) : original(tensor), work(tensor.contiguous()) {}
  void finish() {
    if (!work.is_same(original)) {
      torch::NoGradGuard no_grad;
      original.copy_(work);
    }
  }
  torch::Tensor original, work;
};

class NcclCommunicator : public Communicator {
 public:
  NcclCommunicator(std::unique_ptr<MpiCommunicator> mpi, const torch::Device& device, double timeout_seconds)
      : mpi_(std::move(mpi)) {
    int devices = 0;
    HMT_CUDA_CHECK(cudaGetDeviceCount(&devices));
    HMT_CHECK(devices > 0, "dist.backend nccl: rank {} sees no CUDA device", mpi_->rank());
    device_ = device.has_index() ? device.index() : node_local_rank(mpi_->comm()) % devices;
    HMT_CUDA_CHECK(cudaSetDevice(device_));
    // ncclCommAbort first: it cancels the NCCL kernels a dead peer would
    // otherwise keep spinning on the GPU after this process is gone.
    watchdog_ = std::make_unique<Watchdog>(mpi_->rank(), mpi_->world(), timeout_seconds,
                                           [this](const std::string& message) {
                                             if (ncclComm_t comm = comm_.load()) ncclCommAbort(comm);
                                             abort_mpi_job(message);
                                           });
    ncclUniqueId id;
    if (mpi_->rank() == 0) HMT_NCCL_CHECK(ncclGetUniqueId(&id));
    auto bytes = torch::from_blob(&id, {static_cast<int64_t>(sizeof(id))}, torch::kByte);
    mpi_->broadcast_(bytes, /*root=*/0);
    ncclComm_t comm = nullptr;
    {
      auto ticket = watchdog_->watch("ncclCommInitRank");
      HMT_NCCL_CHECK(ncclCommInitRank(&comm, mpi_->world(), id, mpi_->rank()));
    }
    comm_.store(comm);
#ifndef HMT_TORCH_CUDA
    // A blocking stream: it waits for the legacy default stream, where
    // code without LibTorch streams writes its buffers.
    HMT_CUDA_CHECK(cudaStreamCreate(&own_stream_));
#endif
  }

  ~NcclCommunicator() override {
    watchdog_.reset();
    if (ncclComm_t comm = comm_.exchange(nullptr)) ncclCommDestroy(comm);
#ifndef HMT_TORCH_CUDA
    if (own_stream_) cudaStreamDestroy(own_stream_);
#endif
  }

  int rank() const override { return mpi_->rank(); }
  int world() const override { return mpi_->world(); }
  std::string backend() const override { return "nccl"; }

  void broadcast_(torch::Tensor& tensor, int root) override {
    if (!tensor.is_cuda()) return mpi_->broadcast_(tensor, root);
    HMT_CHECK(root >= 0 && root < world(), "broadcast_: root {} is not a rank of this job (world {})", root, world());
    auto ticket = watchdog_->watch(fmt::format("NCCL broadcast_ from rank {} of {}", root, describe_tensor(tensor)));
    DeviceBuffer buffer(tensor);
    void* data = buffer.work.data_ptr();
    HMT_NCCL_CHECK(ncclBroadcast(data, data, static_cast<size_t>(buffer.work.numel()),
                                 nccl_type(buffer.work.scalar_type()), root, comm_.load(), stream()));
    cudaEvent_t event = record();
    try {
      synchronize(event);
    } catch (...) {
      cudaEventDestroy(event);
      throw;
    }
    cudaEventDestroy(event);
    buffer.finish();
  }

  void all_reduce_sum_(torch::Tensor& tensor) override {
    if (!tensor.is_cuda()) return mpi_->all_reduce_sum_(tensor);
    auto pending = start_all_reduce_sum_(tensor, describe_tensor(tensor));
    pending->wait();
  }

  double all_reduce_sum(double value) override { return mpi_->all_reduce_sum(value); }
  bool any(bool value) override { return mpi_->any(value); }
  void barrier() override { mpi_->barrier(); }

  std::unique_ptr<PendingReduce> start_all_reduce_sum_(torch::Tensor& tensor, const std::string& what) override {
    if (!tensor.is_cuda()) return mpi_->start_all_reduce_sum_(tensor, what);
    class Pending : public StagedPending<DeviceBuffer> {
     public:
      Pending(NcclCommunicator& owner, torch::Tensor& tensor, const std::string& what)
          : StagedPending(DeviceBuffer(tensor), owner.watchdog_->watch("NCCL all_reduce_sum_ of " + what)),
            owner_(owner) {
        void* data = buffer_.work.data_ptr();
        HMT_NCCL_CHECK(ncclAllReduce(data, data, static_cast<size_t>(buffer_.work.numel()),
                                     nccl_type(buffer_.work.scalar_type()), ncclSum, owner_.comm_.load(),
                                     owner_.stream()));
        event_ = owner_.record();
      }
      ~Pending() override {
        if (!done()) cudaEventSynchronize(event_);
        cudaEventDestroy(event_);
      }
      bool test() override {
        if (done()) return true;
        cudaError_t rc = cudaEventQuery(event_);
        if (rc == cudaErrorNotReady) return false;
        HMT_CUDA_CHECK(rc);
        complete();
        return true;
      }
      void wait() override {
        if (done()) return;
        owner_.synchronize(event_);
        complete();
      }

     private:
      NcclCommunicator& owner_;
      cudaEvent_t event_ = nullptr;
    };
    return std::make_unique<Pending>(*this, tensor, what);
  }

  [[noreturn]] void abort(const std::string& message) override {
    if (ncclComm_t comm = comm_.load()) ncclCommAbort(comm);
    abort_mpi_job(fmt::format("rank {} of {}: {}", rank(), world(), message));
  }

 private:
  cudaStream_t stream() const {
#ifdef HMT_TORCH_CUDA
    return c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(device_)).stream();
#else
    return own_stream_;
#endif
  }

  cudaEvent_t record() {
    cudaEvent_t event = nullptr;
    HMT_CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
    HMT_CUDA_CHECK(cudaEventRecord(event, stream()));
    return event;
  }

  // Polls instead of cudaEventSynchronize so that an error NCCL raises
  // asynchronously (a peer's connection broke) is reported rather than waited
  // on; a peer that just never arrives is the watchdog's case.
  void synchronize(cudaEvent_t event) {
    for (;;) {
      cudaError_t rc = cudaEventQuery(event);
      if (rc == cudaSuccess) return;
      if (rc != cudaErrorNotReady) HMT_CUDA_CHECK(rc);
      ncclResult_t async = ncclSuccess;
      HMT_NCCL_CHECK(ncclCommGetAsyncError(comm_.load(), &async));
      HMT_NCCL_CHECK(async);
      std::this_thread::yield();
    }
  }

  std::unique_ptr<MpiCommunicator> mpi_;
  int device_ = 0;
  std::unique_ptr<Watchdog> watchdog_;
  std::atomic<ncclComm_t> comm_{nullptr};
#ifndef HMT_TORCH_CUDA
  cudaStream_t own_stream_ = nullptr;
#endif
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(std::unique_ptr<MpiCommunicator> mpi, const torch::Device& device,
                                                     double timeout_seconds) {
  return std::make_unique<NcclCommunicator>(std::move(mpi), device, timeout_seconds);
}

}  // namespace hmt::dist
