#include "tests/fault/fd_limit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "tests/util/process_census.h"

namespace shmport::testing {
namespace {

int HighestOpenFd() {
  int highest = -1;
  for (const std::string& entry : ListOpenFds()) {
    highest = std::max(highest, std::atoi(entry.c_str()));  // "N -> target"
  }
  return highest;
}

absl::Status SetSoftLimit(rlim_t limit, rlim_t hard) {
  const rlimit r{limit, hard};
  if (::setrlimit(RLIMIT_NOFILE, &r) != 0) {
    return absl::InternalError(absl::StrCat("setrlimit(RLIMIT_NOFILE, ", limit,
                                            "): ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<FdLimit> FdLimit::Exhaust(int spare) {
  FdLimit limit;
  if (::getrlimit(RLIMIT_NOFILE, &limit.original_) != 0) {
    return absl::InternalError(
        absl::StrCat("getrlimit: ", std::strerror(errno)));
  }
  limit.fd_dir_.Reset(
      ::open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  limit.maps_.Reset(::open("/proc/self/maps", O_RDONLY | O_CLOEXEC));
  if (!limit.fd_dir_ || !limit.maps_) {
    return absl::InternalError(
        absl::StrCat("open /proc/self: ", std::strerror(errno)));
  }
  limit.current_ = static_cast<rlim_t>(HighestOpenFd() + 1);
  if (absl::Status s = SetSoftLimit(limit.current_, limit.original_.rlim_max);
      !s.ok()) {
    return s;
  }
  limit.active_ = true;
  // Fill every free number below the limit.
  while (true) {
    const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE) break;
      return absl::InternalError(
          absl::StrCat("open /dev/null: ", std::strerror(errno)));
    }
    limit.fillers_.emplace_back(fd);
  }
  if (spare > 0) {
    if (absl::Status s = limit.Allow(spare); !s.ok()) return s;
  }
  return limit;
}

absl::Status FdLimit::Allow(int n) {
  current_ += static_cast<rlim_t>(n);
  return SetSoftLimit(current_, original_.rlim_max);
}

int FdLimit::OpenFds() const {
  // getdents64 on a descriptor we hold: no new fd, unlike opendir().
  ::lseek(fd_dir_.get(), 0, SEEK_SET);
  int count = 0;
  alignas(8) char buffer[4096];
  while (true) {
    const long n =
        ::syscall(SYS_getdents64, fd_dir_.get(), buffer, sizeof(buffer));
    if (n <= 0) break;
    for (long offset = 0; offset < n;) {
      const auto* entry = reinterpret_cast<const dirent64*>(buffer + offset);
      offset += entry->d_reclen;
      if (entry->d_name[0] == '.') continue;
      const int fd = std::atoi(entry->d_name);
      if (fd == fd_dir_.get() || fd == maps_.get()) continue;
      ++count;
    }
  }
  return count;
}

int FdLimit::SegmentMappings() const {
  std::string text;
  char buffer[4096];
  for (off_t offset = 0;;) {
    const ssize_t n = ::pread(maps_.get(), buffer, sizeof(buffer), offset);
    if (n <= 0) break;
    text.append(buffer, static_cast<size_t>(n));
    offset += n;
  }
  int count = 0;
  for (size_t at = 0;
       (at = text.find("/memfd:shmport-", at)) != std::string::npos; ++at) {
    ++count;
  }
  return count;
}

FdLimit::~FdLimit() {
  if (!active_) return;
  fillers_.clear();
  ::setrlimit(RLIMIT_NOFILE, &original_);
}

}  // namespace shmport::testing
