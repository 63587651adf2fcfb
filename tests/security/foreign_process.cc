#include "tests/security/foreign_process.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "tests/util/other_user.h"
#include "tests/util/runfiles.h"

namespace shmport::testing {
namespace {

std::string FindClient() {
  return FindRunfile("tests/security/foreign_client");
}

}  // namespace

bool CanSwitchUid() {
  if (::geteuid() != 0) return false;
  // Root inside a user namespace that maps no other uid (some sandboxes)
  // cannot become nobody either: try it in a child.
  const pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    ::_exit(BecomeUser(kForeignUid, kForeignGid) ? 0 : 1);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

absl::StatusOr<std::unique_ptr<ForeignProcess>> ForeignProcess::Spawn(
    const std::vector<std::string>& args, uid_t uid, gid_t gid) {
  absl::StatusOr<std::unique_ptr<BinaryCopy>> copy =
      BinaryCopy::Make(FindClient());
  if (!copy.ok()) return copy.status();
  std::vector<std::string> argv = {(*copy)->path()};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<PipedChild> child = PipedChild::Exec(
      "foreign client", std::move(argv),
      [uid, gid] { return BecomeUser(uid, gid) && ::chdir("/") == 0; });
  if (!child.ok()) return child.status();
  return std::unique_ptr<ForeignProcess>(
      new ForeignProcess(*std::move(child), *std::move(copy)));
}

ForeignProcess::~ForeignProcess() {
  child_.CloseInput();  // EOF: it exits
  (void)child_.process().Wait(absl::Seconds(5));
}

absl::StatusOr<std::string> ForeignProcess::Command(const std::string& line,
                                                    absl::Duration timeout) {
  if (absl::Status s = child_.Write(line + "\n"); !s.ok()) {
    return absl::UnavailableError("the foreign client is gone");
  }
  absl::StatusOr<std::string> answer = child_.ReadLine(timeout);
  if (absl::IsDeadlineExceeded(answer.status())) {
    return absl::DeadlineExceededError(
        absl::StrCat("no answer to '", line, "'"));
  }
  if (!answer.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "the foreign client exited before answering '", line, "'"));
  }
  return answer;
}

}  // namespace shmport::testing
