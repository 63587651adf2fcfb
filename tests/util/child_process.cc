#include "tests/util/child_process.h"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"

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
    : pid_(std::exchange(other.pid_, -1)), reaped_(other.reaped_) {}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

void ChildProcess::Kill(int signal) {
  if (pid_ > 0 && !reaped_) ::kill(pid_, signal);
}

std::string ChildProcess::Wait(absl::Duration timeout) {
  if (reaped_) return "already reaped";
  // A pidfd makes the wait event-driven and bounded.
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  if (pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    const int ms = static_cast<int>(absl::ToInt64Milliseconds(timeout));
    int r;
    do {
      r = ::poll(&p, 1, ms);
    } while (r < 0 && errno == EINTR);
    ::close(pidfd);
    if (r == 0) {
      Kill(SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      reaped_ = true;
      return "timeout";
    }
  }
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  if (WIFEXITED(status)) return absl::StrCat("exit ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return absl::StrCat("signal ", WTERMSIG(status));
  return "unknown";
}

}  // namespace shmport::testing
