#include "core/c_api_check.h"

#include <hdf5.h>
#include <mpi.h>

#include <cstdio>

namespace hmt::detail {

void c_api_failure(const char* library, const char* call, const char* file, int line, const std::string& library_text) {
  throw CApiError(library, fmt::format("{} call failed at {}:{}: {}: {}", library, file, line, call, library_text));
}

std::string mpi_error_text(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return "MPI error code " + std::to_string(code);
  return std::string(text, static_cast<size_t>(length));
}

namespace {
herr_t collect_h5_error(unsigned n, const H5E_error2_t* err, void* data) {
  auto* out = static_cast<std::string*>(data);
  if (!out->empty()) out->append("; ");
  out->append(err->desc ? err->desc : "?");
  out->append(" (");
  out->append(err->func_name ? err->func_name : "?");
  out->append(")");
  return 0;
}
}  // namespace

std::string hdf5_error_text() {
  std::string text;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_h5_error, &text);
  H5Eclear2(H5E_DEFAULT);
  return text.empty() ? "no HDF5 error stack" : text;
}

}  // namespace hmt::detail
