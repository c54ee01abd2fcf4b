#include "core/peak_memory.h"

#include <fstream>
#include <sstream>

#include "core/error.h"

namespace hmt {

int64_t status_field_bytes(const std::string& status_text, const std::string& field) {
  std::istringstream lines(status_text);
  std::string line;
  const std::string prefix = field + ":";
  while (std::getline(lines, line)) {
    if (line.compare(0, prefix.size(), prefix) != 0) continue;
    std::istringstream value(line.substr(prefix.size()));
    int64_t amount = -1;
    std::string unit;
    value >> amount >> unit;
    HMT_CHECK(amount >= 0 && unit == "kB", "/proc/self/status: cannot parse \"{}\"", line);
    return amount * 1024;
  }
  fail("/proc/self/status: no {} field", field);
}

ResidentMemory resident_memory() {
  std::ifstream in("/proc/self/status");
  HMT_CHECK(in, "/proc/self/status: cannot read (peak memory needs Linux /proc)");
  std::ostringstream text;
  text << in.rdbuf();
  return {status_field_bytes(text.str(), "VmRSS"), status_field_bytes(text.str(), "VmHWM")};
}

bool reset_peak_memory() {
  std::ofstream out("/proc/self/clear_refs");
  if (!out) return false;
  out << "5";  // 5: reset the peak RSS (Documentation/filesystems/proc.rst)
  out.flush();
  return static_cast<bool>(out);
}

}  // namespace hmt
