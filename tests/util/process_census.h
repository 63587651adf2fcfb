// Counts what a process holds, so tests can prove nothing leaked: open fds
// (/proc/self/fd) and shmport memfd mappings (/proc/self/maps).
#ifndef SHMPORT_TESTS_UTIL_PROCESS_CENSUS_H_
#define SHMPORT_TESTS_UTIL_PROCESS_CENSUS_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace shmport::testing {

// Open descriptors of `pid` (0 = this process), excluding the one used to
// read the directory.
int CountOpenFds(pid_t pid = 0);
// Targets of the open fds ("socket:[123]", "/memfd:shmport-seg-0 (deleted)").
std::vector<std::string> ListOpenFds(pid_t pid = 0);
// Mappings of shmport segments ("/memfd:shmport-" in /proc/<pid>/maps).
int CountSegmentMappings(pid_t pid = 0);
// Every mapping of `pid` (lines of /proc/<pid>/maps).
int CountMappings(pid_t pid = 0);
// This process's peak resident set (VmHWM), and a reset of that peak to
// the current resident set (/proc/self/clear_refs).
uint64_t PeakResidentBytes();
void ResetPeakResident();
// Rss of the shmport segment mappings of `pid` (/proc/<pid>/smaps), summed.
uint64_t SegmentResidentBytes(pid_t pid = 0);

// A size field of /proc/<pid>/status ("VmRSS", "VmHWM") in bytes; 0 when
// the process or the field is missing.
uint64_t ProcStatusBytes(pid_t pid, const std::string& key);

// Snapshot taken at construction; Leaked*() compare with now.
class ProcessCensus {
 public:
  ProcessCensus();
  int LeakedFds() const;
  int LeakedMappings() const;
  std::string Describe() const;  // for failure messages

 private:
  int fds_;
  int mappings_;
  std::vector<std::string> fd_list_;
};

}  // namespace shmport::testing

#endif  // SHMPORT_TESTS_UTIL_PROCESS_CENSUS_H_
