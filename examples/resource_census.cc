#include "examples/resource_census.h"

#include <dirent.h>

#include <fstream>
#include <string>

namespace shmport::examples {

int OpenFdCount() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int count = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  ::closedir(dir);
  return count - 1;  // the directory's own fd
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
