// Running a test's binary as another uid (the security tests run as root
// and play a second user). That uid cannot read the runfiles, which live
// under root's 0700 home: BinaryCopy puts a copy where it can. BecomeUser
// switches a forked child's credentials before it execs.
#ifndef SHMPORT_TESTS_UTIL_OTHER_USER_H_
#define SHMPORT_TESTS_UTIL_OTHER_USER_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace shmport::testing {

// A copy of a binary in a fresh world-readable directory under /tmp,
// removed (with the directory) on destruction.
class BinaryCopy {
 public:
  // INTERNAL (mkdtemp) or NOT_FOUND (`binary` cannot be copied).
  static absl::StatusOr<std::unique_ptr<BinaryCopy>> Make(
      const std::string& binary);
  ~BinaryCopy();
  BinaryCopy(const BinaryCopy&) = delete;
  BinaryCopy& operator=(const BinaryCopy&) = delete;

  const std::string& path() const { return path_; }

 private:
  BinaryCopy() = default;
  std::string dir_;
  std::string path_;
};

// In a forked child, before exec: drops every supplementary group, then
// takes `gid`, then `uid` (in that order: the first two need root), and
// asks for SIGKILL when the parent dies (a credential change clears that).
// Only async-signal-safe calls. False when a switch failed.
bool BecomeUser(uid_t uid, gid_t gid);

}  // namespace shmport::testing

#endif  // SHMPORT_TESTS_UTIL_OTHER_USER_H_
