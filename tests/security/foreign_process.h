// ForeignProcess: foreign_client running under another uid, for the
// security tests. The test process (root in CI) forks, drops to the given
// uid and gid (setgroups, setresgid, setresuid) in the child, and execs a
// copy of foreign_client that the other uid can read. The test then sends
// it commands (see foreign_client.cc) and reads its one-line answers.
#ifndef SHMPORT_TESTS_SECURITY_FOREIGN_PROCESS_H_
#define SHMPORT_TESTS_SECURITY_FOREIGN_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/util/other_user.h"
#include "tests/util/piped_child.h"

namespace shmport::testing {

// nobody:nogroup on Debian.
inline constexpr uid_t kForeignUid = 65534;
inline constexpr gid_t kForeignGid = 65534;

// True when this process can run a child as kForeignUid:kForeignGid (it
// is root, and not in a user namespace that maps only root). Tests
// GTEST_SKIP without it.
bool CanSwitchUid();

// Thread-safety: none; one test thread drives it.
class ForeignProcess {
 public:
  // Starts foreign_client (found in the test's runfiles, copied to a fresh
  // world-readable directory: the runfiles live under root's 0700 home)
  // with `args`, as uid:gid.
  static absl::StatusOr<std::unique_ptr<ForeignProcess>> Spawn(
      const std::vector<std::string>& args, uid_t uid = kForeignUid,
      gid_t gid = kForeignGid);

  // Closes its stdin, SIGKILLs it if it lingers, reaps it, removes the copy.
  ~ForeignProcess();
  ForeignProcess(const ForeignProcess&) = delete;
  ForeignProcess& operator=(const ForeignProcess&) = delete;

  pid_t pid() const { return child_.pid(); }

  // Sends one command line and returns the answer line ("ok ..." or
  // "error CODE ..."). DEADLINE_EXCEEDED or UNAVAILABLE (it exited) when
  // no answer comes.
  absl::StatusOr<std::string> Command(
      const std::string& line, absl::Duration timeout = absl::Seconds(30));

 private:
  ForeignProcess(PipedChild child, std::unique_ptr<BinaryCopy> copy)
      : child_(std::move(child)), copy_(std::move(copy)) {}

  PipedChild child_;                  // stdin: commands; stdout: answers
  std::unique_ptr<BinaryCopy> copy_;  // what the other uid runs
};

}  // namespace shmport::testing

#endif  // SHMPORT_TESTS_SECURITY_FOREIGN_PROCESS_H_
