#include "trainer/dist/mpi_communicator.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "core/c_api_check.h"
#include "core/error.h"
#include "trainer/dist/staged_pending.h"

namespace hmt::dist {
namespace {

void finalize_mpi_at_exit() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

// The MPI type a tensor travels as; half and bfloat16 have no MPI type with
// MPI_SUM and travel as float32 (exact for both).
MPI_Datatype mpi_type(torch::ScalarType type) {
  switch (type) {
    case torch::kFloat: return MPI_FLOAT;
    case torch::kDouble: return MPI_DOUBLE;
    case torch::kInt: return MPI_INT32_T;
    case torch::kLong: return MPI_INT64_T;
    case torch::kShort: return MPI_INT16_T;
    case torch::kChar: return MPI_INT8_T;
    case torch::kByte: return MPI_UINT8_T;
    default: fail("MPI collectives: no MPI type for tensors of {}", c10::toString(type));
  }
}

// A contiguous host tensor of an MPI type holding `tensor`'s values; when it
// is a copy, finish() writes the result back into `tensor`.
class HostBuffer {
 public:
  explicit HostBuffer(torch::Tensor& tensor) : original_(tensor) {
    torch::NoGradGuard no_grad;
    work_ = tensor.cpu();
    if (work_.scalar_type() == torch::kHalf || work_.scalar_type() == torch::kBFloat16) work_ = work_.to(torch::kFloat);
    work_ = work_.contiguous();
    type_ = mpi_type(work_.scalar_type());
  }
  void* data() { return work_.data_ptr(); }
  std::int64_t numel() const { return work_.numel(); }
  std::int64_t element_size() const { return static_cast<std::int64_t>(work_.element_size()); }
  MPI_Datatype type() const { return type_; }
  void finish() {
    if (work_.is_same(original_)) return;
    torch::NoGradGuard no_grad;
    original_.copy_(work_);
  }

 private:
  torch::Tensor original_, work_;
  MPI_Datatype type_;
};

// MPI counts are int: longer buffers go in chunks of at most INT_MAX elements.
template <class F>
void for_each_chunk(HostBuffer& buffer, F&& call) {
  auto* bytes = static_cast<char*>(buffer.data());
  std::int64_t count = 0;
  for (std::int64_t offset = 0; offset < buffer.numel(); offset += count) {
    count = std::min<std::int64_t>(buffer.numel() - offset, INT_MAX);
    call(bytes + offset * buffer.element_size(), static_cast<int>(count));
  }
}

class MpiPending : public StagedPending<HostBuffer> {
 public:
  MpiPending(torch::Tensor& tensor, MPI_Comm comm, Watchdog::Ticket ticket)
      : StagedPending(HostBuffer(tensor), std::move(ticket)) {
    for_each_chunk(buffer_, [&](void* data, int count) {
      requests_.emplace_back();
      HMT_MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, data, count, buffer_.type(), MPI_SUM, comm, &requests_.back()));
    });
  }
  ~MpiPending() override {
    // MPI still writes into the buffer until the request completes.
    if (!done()) MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE);
  }
  bool test() override {
    if (done()) return true;
    int flag = 0;
    HMT_MPI_CHECK(MPI_Testall(static_cast<int>(requests_.size()), requests_.data(), &flag, MPI_STATUSES_IGNORE));
    if (flag) complete();
    return done();
  }
  void wait() override {
    if (done()) return;
    HMT_MPI_CHECK(MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE));
    complete();
  }

 private:
  std::vector<MPI_Request> requests_;
};

}  // namespace

void ensure_mpi_initialized() {
  int initialized = 0;
  HMT_MPI_CHECK(MPI_Initialized(&initialized));
  if (initialized) return;
  int provided = 0;
  HMT_MPI_CHECK(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided));
  std::atexit(finalize_mpi_at_exit);
  // OpenMPI provides MULTIPLE; with less, MPI_Abort from the watchdog thread
  // still works in practice, so this is worth a warning only.
  if (provided < MPI_THREAD_MULTIPLE)
    std::fprintf(stderr,
                 "warning: MPI provides thread level %d < MPI_THREAD_MULTIPLE; the dist.timeout watchdog "
                 "calls MPI_Abort from its own thread\n",
                 provided);
}

void abort_mpi_job(const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  std::fflush(stderr);
  std::fflush(stdout);
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::_Exit(1);  // MPI_Abort does not return; this is for the compiler and broken MPIs
}

MpiCommunicator::MpiCommunicator(double timeout_seconds) {
  ensure_mpi_initialized();
  HMT_MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &comm_));
  HMT_MPI_CHECK(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
  HMT_MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
  HMT_MPI_CHECK(MPI_Comm_size(comm_, &world_));
  watchdog_ = std::make_unique<Watchdog>(rank_, world_, timeout_seconds, abort_mpi_job);
}

MpiCommunicator::~MpiCommunicator() {
  watchdog_.reset();
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

void MpiCommunicator::broadcast_(torch::Tensor& tensor, int root) {
  HMT_CHECK(root >= 0 && root < world_, "broadcast_: root {} is not a rank of this job (world {})", root, world_);
  auto ticket = watchdog_->watch(fmt::format("broadcast_ from rank {} of {}", root, describe_tensor(tensor)));
  HostBuffer buffer(tensor);
  for_each_chunk(buffer,
                 [&](void* data, int count) { HMT_MPI_CHECK(MPI_Bcast(data, count, buffer.type(), root, comm_)); });
  if (rank_ != root) buffer.finish();
}

void MpiCommunicator::all_reduce_sum_(torch::Tensor& tensor) {
  auto ticket = watchdog_->watch(fmt::format("all_reduce_sum_ of {}", describe_tensor(tensor)));
  HostBuffer buffer(tensor);
  for_each_chunk(buffer, [&](void* data, int count) {
    HMT_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data, count, buffer.type(), MPI_SUM, comm_));
  });
  buffer.finish();
}

double MpiCommunicator::all_reduce_sum(double value) {
  auto ticket = watchdog_->watch("all_reduce_sum of one double");
  double sum = 0;
  HMT_MPI_CHECK(MPI_Allreduce(&value, &sum, 1, MPI_DOUBLE, MPI_SUM, comm_));
  return sum;
}

bool MpiCommunicator::any(bool value) {
  auto ticket = watchdog_->watch("any (stop agreement)");
  int mine = value ? 1 : 0, result = 0;
  HMT_MPI_CHECK(MPI_Allreduce(&mine, &result, 1, MPI_INT, MPI_LOR, comm_));
  return result != 0;
}

void MpiCommunicator::barrier() {
  auto ticket = watchdog_->watch("barrier");
  HMT_MPI_CHECK(MPI_Barrier(comm_));
}

std::unique_ptr<PendingReduce> MpiCommunicator::start_all_reduce_sum_(torch::Tensor& tensor, const std::string& what) {
  auto ticket = watchdog_->watch(fmt::format("all_reduce_sum_ of {}", what));
  return std::make_unique<MpiPending>(tensor, comm_, std::move(ticket));
}

void MpiCommunicator::abort(const std::string& message) {
  abort_mpi_job(fmt::format("rank {} of {}: {}", rank_, world_, message));
}

}  // namespace hmt::dist
