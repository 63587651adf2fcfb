#include "tests/util/process_census.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace shmport::testing {
namespace {

std::string ProcDir(pid_t pid) {
  return pid == 0 ? "/proc/self" : absl::StrCat("/proc/", pid);
}

}  // namespace

uint64_t ProcStatusBytes(pid_t pid, const std::string& key) {
  std::ifstream in(ProcDir(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      return std::stoull(line.substr(key.size() + 1)) * 1024;
    }
  }
  return 0;
}

std::vector<std::string> ListOpenFds(pid_t pid) {
  std::vector<std::string> out;
  const std::string dir = ProcDir(pid) + "/fd";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  const int own = ::dirfd(d);
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    if (pid == 0 && std::atoi(e->d_name) == own) continue;
    char target[512];
    const std::string link = dir + "/" + e->d_name;
    const ssize_t n = ::readlink(link.c_str(), target, sizeof(target) - 1);
    target[n > 0 ? n : 0] = '\0';
    out.push_back(absl::StrCat(e->d_name, " -> ", target));
  }
  ::closedir(d);
  return out;
}

int CountOpenFds(pid_t pid) {
  return static_cast<int>(ListOpenFds(pid).size());
}

int CountSegmentMappings(pid_t pid) {
  std::ifstream maps(ProcDir(pid) + "/maps");
  std::string line;
  int count = 0;
  while (std::getline(maps, line)) {
    if (line.find("/memfd:shmport-") != std::string::npos) ++count;
  }
  return count;
}

int CountMappings(pid_t pid) {
  std::ifstream maps(ProcDir(pid) + "/maps");
  std::string line;
  int count = 0;
  while (std::getline(maps, line)) ++count;
  return count;
}

uint64_t SegmentResidentBytes(pid_t pid) {
  // A mapping's header line names the file; its "Rss:" line follows.
  std::ifstream smaps(ProcDir(pid) + "/smaps");
  std::string line;
  bool segment = false;
  uint64_t total = 0;
  while (std::getline(smaps, line)) {
    if (line.rfind("Rss:", 0) == 0) {
      if (segment) total += std::strtoull(line.c_str() + 4, nullptr, 10) * 1024;
    } else if (line.find('-') < line.find(' ') && line.find(' ') != 0) {
      segment = line.find("/memfd:shmport-seg") != std::string::npos;
    }
  }
  return total;
}

uint64_t PeakResidentBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      return std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
    }
  }
  return 0;
}

void ResetPeakResident() { std::ofstream("/proc/self/clear_refs") << "5"; }

ProcessCensus::ProcessCensus()
    : fds_(CountOpenFds()),
      mappings_(CountSegmentMappings()),
      fd_list_(ListOpenFds()) {}

int ProcessCensus::LeakedFds() const { return CountOpenFds() - fds_; }
int ProcessCensus::LeakedMappings() const {
  return CountSegmentMappings() - mappings_;
}

std::string ProcessCensus::Describe() const {
  return absl::StrCat("fds before:\n  ", absl::StrJoin(fd_list_, "\n  "),
                      "\nfds now:\n  ", absl::StrJoin(ListOpenFds(), "\n  "));
}

}  // namespace shmport::testing
