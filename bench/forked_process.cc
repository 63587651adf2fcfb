#include "bench/forked_process.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace shmport::bench {
namespace {

std::string Describe(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exit ", WEXITSTATUS(status));
  return absl::StrCat("signal ", WTERMSIG(status));
}

}  // namespace

absl::StatusOr<ForkedProcess> ForkedProcess::Start(
    const std::function<int()>& body) {
  const pid_t parent = getpid();
  // Buffered output would otherwise be written twice, once by each process.
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    return absl::ResourceExhaustedError(
        absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    // The parent may have died before prctl took effect.
    if (getppid() != parent) _exit(125);
    _exit(body());
  }
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  // ENOSYS: a kernel before 5.3, or valgrind (used to profile this
  // benchmark), which does not know the call; Wait then falls back to
  // waitpid(WNOHANG) at 1 ms intervals.
  if (!pidfd.valid() && errno != ENOSYS) {
    const int err = errno;
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return absl::InternalError(
        absl::StrCat("pidfd_open(", pid, "): ", std::strerror(err)));
  }
  ForkedProcess process(pid, std::move(pidfd));
  return process;
}

ForkedProcess::ForkedProcess(ForkedProcess&& other) noexcept
    : pid_(other.pid_),
      pidfd_(std::move(other.pidfd_)),
      reaped_(std::exchange(other.reaped_, true)) {}

ForkedProcess::~ForkedProcess() {
  if (reaped_) return;
  kill(pid_, SIGKILL);
  int status;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
}

void ForkedProcess::Kill() {
  if (!reaped_) kill(pid_, SIGKILL);
}

absl::StatusOr<std::string> ForkedProcess::Wait(absl::Time deadline) {
  if (reaped_) return absl::FailedPreconditionError("child already reaped");
  for (;;) {
    const int64_t ms =
        std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now()));
    int n;
    int status = 0;
    if (pidfd_.valid()) {
      pollfd pfd = {.fd = pidfd_.get(), .events = POLLIN, .revents = 0};
      n = poll(&pfd, 1,
               static_cast<int>(
                   std::min<int64_t>(ms, std::numeric_limits<int>::max())));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        return absl::InternalError(
            absl::StrCat("poll(pidfd): ", std::strerror(errno)));
      }
    } else {
      const pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        reaped_ = true;
        return Describe(status);
      }
      n = 0;
      if (ms > 0) {
        absl::SleepFor(absl::Milliseconds(1));
        continue;
      }
    }
    if (n == 0) {
      Kill();
      waitpid(pid_, &status, 0);
      reaped_ = true;
      return absl::DeadlineExceededError(
          absl::StrCat("child ", pid_, " still running at its deadline"));
    }
    if (waitpid(pid_, &status, 0) < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(
          absl::StrCat("waitpid(", pid_, "): ", std::strerror(errno)));
    }
    reaped_ = true;
    return Describe(status);
  }
}

}  // namespace shmport::bench
