#include "tests/util/child_process.h"

#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "shmport/unique_fd.h"
#include "tests/util/fd_wait.h"

namespace shmport::testing {

ChildProcess ChildProcess::Fork(std::function<int()> body) {
  fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    perror("fork");
    std::abort();
  }
  if (pid == 0) {
    int rc = body();
    fflush(nullptr);
    ::_exit(rc);
  }
  return ChildProcess(pid);
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      reaped_(other.reaped_),
      status_(other.status_) {}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

void ChildProcess::Kill(int signal) {
  if (pid_ > 0 && !reaped_) ::kill(pid_, signal);
}

std::optional<int> ChildProcess::Reap(absl::Duration timeout) {
  if (reaped_) return status_;
  // A pidfd makes the wait event-driven and bounded.
  const UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0)));
  if (pidfd && !WaitReadable(pidfd.get(), absl::Now() + timeout)) {
    Kill(SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    reaped_ = true;
    return std::nullopt;
  }
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  status_ = status;
  return status_;
}

std::string ChildProcess::Wait(absl::Duration timeout) {
  if (reaped_) return "already reaped";
  const std::optional<int> status = Reap(timeout);
  if (!status.has_value()) return "timeout";
  if (WIFEXITED(*status)) return absl::StrCat("exit ", WEXITSTATUS(*status));
  if (WIFSIGNALED(*status)) return absl::StrCat("signal ", WTERMSIG(*status));
  return "unknown";
}

absl::StatusOr<int> ChildProcess::WaitForExitCode(absl::Duration timeout) {
  const bool earlier = reaped_;
  const std::optional<int> status = Reap(timeout);
  if (!status.has_value()) {
    return absl::DeadlineExceededError(absl::StrCat(
        "pid ", pid_, " did not exit within ", absl::FormatDuration(timeout),
        earlier ? "" : " (killed)"));
  }
  if (WIFEXITED(*status)) return WEXITSTATUS(*status);
  return absl::InternalError(
      absl::StrCat("pid ", pid_, " killed by signal ",
                   WIFSIGNALED(*status) ? WTERMSIG(*status) : -1));
}

}  // namespace shmport::testing
