#pragma once
// Every C library call (MPI, HDF5, NCCL, CUDA) goes through one of these, so a
// failure reports file, line, the call and the library's own error text.
#include <string>

#include "core/error.h"

namespace hmt::detail {
[[noreturn]] void c_api_failure(const char* library, const char* call, const char* file, int line,
                                const std::string& library_text);
std::string mpi_error_text(int code);
}  // namespace hmt::detail

#define HMT_MPI_CHECK(call)                                                                                       \
  do {                                                                                                            \
    int hmt_mpi_rc_ = (call);                                                                                     \
    if (hmt_mpi_rc_ != 0 /* MPI_SUCCESS */)                                                                       \
      ::hmt::detail::c_api_failure("MPI", #call, __FILE__, __LINE__, ::hmt::detail::mpi_error_text(hmt_mpi_rc_)); \
  } while (0)

// HDF5 returns a negative herr_t/hid_t on failure and keeps its own error
// stack; the stack text is captured by the caller-provided H5 helpers.
#define HMT_H5_CHECK(call)                                                                               \
  ([&]() {                                                                                               \
    auto hmt_h5_rc_ = (call);                                                                            \
    if (hmt_h5_rc_ < 0)                                                                                  \
      ::hmt::detail::c_api_failure("HDF5", #call, __FILE__, __LINE__, ::hmt::detail::hdf5_error_text()); \
    return hmt_h5_rc_;                                                                                   \
  }())

namespace hmt::detail {
std::string hdf5_error_text();
}

// NCCL and CUDA: only the translation units that include nccl.h and
// cuda_runtime_api.h expand these (builds with -DHMT_WITH_NCCL=ON), so the
// library's own text is taken there. ncclGetLastError adds NCCL's detail
// (which peer, which transport) to the generic result string.
#define HMT_NCCL_CHECK(call)                                                                                          \
  do {                                                                                                                \
    ncclResult_t hmt_nccl_rc_ = (call);                                                                               \
    if (hmt_nccl_rc_ != ncclSuccess)                                                                                  \
      ::hmt::detail::c_api_failure("NCCL", #call, __FILE__, __LINE__,                                                 \
                                   std::string(ncclGetErrorString(hmt_nccl_rc_)) + " (" + ncclGetLastError(nullptr) + \
                                       ")");                                                                          \
  } while (0)

#define HMT_CUDA_CHECK(call)                                                            \
  do {                                                                                  \
    cudaError_t hmt_cuda_rc_ = (call);                                                  \
    if (hmt_cuda_rc_ != cudaSuccess)                                                    \
      ::hmt::detail::c_api_failure("CUDA", #call, __FILE__, __LINE__,                   \
                                   std::string(cudaGetErrorName(hmt_cuda_rc_)) + ": " + \
                                       cudaGetErrorString(hmt_cuda_rc_));               \
  } while (0)
