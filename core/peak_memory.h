#pragma once
// Resident memory of this process from /proc/self/status (Linux): VmRSS now
// and VmHWM, its high-water mark. The mark can be reset to the current RSS by
// writing "5" to /proc/self/clear_refs on kernels that allow it (>= 4.0, and
// not in every container); where it cannot, the peak counts from process
// start, so a benchmark measures each configuration in its own process.
#include <cstdint>
#include <string>

namespace hmt {

struct ResidentMemory {
  int64_t rss_bytes = 0;   // VmRSS
  int64_t peak_bytes = 0;  // VmHWM
};

// Reads /proc/self/status; throws hmt::Error where it is unavailable.
ResidentMemory resident_memory();

// The "VmRSS:  1234 kB" style fields of a status text, in bytes; throws
// naming the field when it is absent or unparsable.
int64_t status_field_bytes(const std::string& status_text, const std::string& field);

// Resets VmHWM to the current RSS; false where the kernel refuses.
bool reset_peak_memory();

}  // namespace hmt
