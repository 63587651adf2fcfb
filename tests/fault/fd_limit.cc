#include "tests/fault/fd_limit.h"

#include <errno.h>
#include <fcntl.h>
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

FdLimit::~FdLimit() {
  if (!active_) return;
  fillers_.clear();
  ::setrlimit(RLIMIT_NOFILE, &original_);
}

}  // namespace shmport::testing
