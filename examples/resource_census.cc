#include "examples/resource_census.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>

namespace shmport::examples {

std::string FdTarget(int fd) {
  char target[256];
  const std::string link = "/proc/self/fd/" + std::to_string(fd);
  const ssize_t n = ::readlink(link.c_str(), target, sizeof(target) - 1);
  if (n <= 0) return "";
  return std::string(target, static_cast<size_t>(n));
}

int CountPortFds(const std::vector<std::string>& port_sockets) {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int count = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    const std::string target = FdTarget(std::atoi(entry->d_name));
    if (target.find("/memfd:shmport-") != std::string::npos ||
        std::find(port_sockets.begin(), port_sockets.end(), target) !=
            port_sockets.end()) {
      ++count;
    }
  }
  ::closedir(dir);
  return count;
}

int SegmentMappingCount() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  int count = 0;
  while (std::getline(maps, line)) {
    if (line.find("/memfd:shmport-") != std::string::npos) ++count;
  }
  return count;
}

}  // namespace shmport::examples
