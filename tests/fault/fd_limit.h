// FdLimit: runs this process out of file descriptors (RLIMIT_NOFILE) so
// that fault tests can watch what fails and what leaks. Use it in a forked
// child: the limit is process-wide.
#ifndef SHMPORT_TESTS_FAULT_FD_LIMIT_H_
#define SHMPORT_TESTS_FAULT_FD_LIMIT_H_

#include <sys/resource.h>

#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "shmport/unique_fd.h"

namespace shmport::testing {

// While it lives, at most `spare` more descriptors can be opened: the soft
// RLIMIT_NOFILE is lowered to just above the highest open fd, and the
// holes below it are filled with /dev/null. Restores both on destruction.
// Thread-safety: none (and other threads opening fds disturb the count).
class FdLimit {
 public:
  static absl::StatusOr<FdLimit> Exhaust(int spare = 0);
  FdLimit(FdLimit&& other) noexcept
      : original_(other.original_),
        current_(other.current_),
        fillers_(std::move(other.fillers_)),
        fd_dir_(std::move(other.fd_dir_)),
        maps_(std::move(other.maps_)),
        active_(std::exchange(other.active_, false)) {}
  FdLimit& operator=(FdLimit&&) = delete;
  ~FdLimit();

  // Lets `n` more descriptors be opened (raises the soft limit).
  absl::Status Allow(int n);
  // Descriptors this object holds to fill holes (they count as open).
  int fillers() const { return static_cast<int>(fillers_.size()); }

  // What tests/util's CountOpenFds() and CountSegmentMappings() would say,
  // without needing a new fd to say it (those open /proc files, which
  // fails at the limit): read through fds opened before the limit, which
  // are themselves not counted.
  int OpenFds() const;
  int SegmentMappings() const;

 private:
  FdLimit() = default;
  rlimit original_{};
  rlim_t current_ = 0;
  std::vector<UniqueFd> fillers_;
  UniqueFd fd_dir_;  // /proc/self/fd
  UniqueFd maps_;    // /proc/self/maps
  bool active_ = false;
};

}  // namespace shmport::testing

#endif  // SHMPORT_TESTS_FAULT_FD_LIMIT_H_
