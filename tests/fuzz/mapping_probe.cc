#include "tests/fuzz/mapping_probe.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/fuzz/fuzz_check.h"

namespace shmport::fuzz {

uint64_t MappedPages() {
  const int fd = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  SHMPORT_FUZZ_CHECK(fd >= 0) << "open /proc/self/statm: errno " << errno;
  char buf[128];
  const ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
  ::close(fd);
  SHMPORT_FUZZ_CHECK(n > 0) << "read /proc/self/statm: errno " << errno;
  buf[n] = '\0';
  return std::strtoull(buf, nullptr, 10);
}

bool MemfdMapped(const char* memfd_name) {
  std::ifstream maps("/proc/self/maps");
  const std::string needle = absl::StrCat("/memfd:", memfd_name, " ");
  std::string line;
  while (std::getline(maps, line)) {
    if (absl::StrContains(line, needle)) return true;
  }
  return false;
}

void CheckNoMemfdMapped(const char* memfd_name, uint64_t pages_before,
                        const char* when) {
  // VmSize also moves when the allocator maps memory; only maps is proof.
  if (MappedPages() == pages_before) return;
  SHMPORT_FUZZ_CHECK(!MemfdMapped(memfd_name))
      << "a mapping of memfd " << memfd_name << " survived " << when;
}

}  // namespace shmport::fuzz
