#include "tests/control/client_process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace shmport::testing {
namespace {

int PollTimeoutMs(absl::Time deadline) {
  const absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(
      absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))));
}

// Waits for `fd` to become readable; false at the deadline.
bool WaitReadable(int fd, absl::Time deadline) {
  while (true) {
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, PollTimeoutMs(deadline));
    if (r < 0 && errno == EINTR) continue;
    return r > 0;
  }
}

}  // namespace

std::string ClientProcess::FindBinary() {
  if (const char* srcdir = ::getenv("TEST_SRCDIR")) {
    return absl::StrCat(srcdir, "/shmport/tests/control/control_client");
  }
  return "bazel-bin/tests/control/control_client";
}

absl::StatusOr<ClientProcess> ClientProcess::Spawn(
    std::vector<std::string> args) {
  return SpawnUnder({}, std::move(args));
}

absl::StatusOr<ClientProcess> ClientProcess::SpawnUnder(
    std::vector<std::string> wrapper, std::vector<std::string> args) {
  args.insert(args.begin(), FindBinary());
  args.insert(args.begin(), wrapper.begin(), wrapper.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    ::dup2(in[0], STDIN_FILENO);
    ::dup2(out[1], STDOUT_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  ClientProcess p;
  p.pid_ = pid;
  p.pidfd_.Reset(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  p.stdin_.Reset(in[1]);
  p.stdout_.Reset(out[0]);
  return p;
}

ClientProcess::ClientProcess(ClientProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, 0)),
      reaped_(other.reaped_),
      pidfd_(std::move(other.pidfd_)),
      stdin_(std::move(other.stdin_)),
      stdout_(std::move(other.stdout_)),
      buffered_(std::move(other.buffered_)) {}

ClientProcess::~ClientProcess() {
  if (pid_ > 0 && !reaped_) Kill(SIGKILL);
}

absl::StatusOr<std::string> ClientProcess::ReadLine(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const size_t newline = buffered_.find('\n');
    if (newline != std::string::npos) {
      std::string line = buffered_.substr(0, newline);
      buffered_.erase(0, newline + 1);
      return line;
    }
    if (!WaitReadable(stdout_.get(), deadline)) {
      return absl::DeadlineExceededError(absl::StrCat(
          "no line from client pid ", pid_, " within ",
          absl::FormatDuration(timeout), " (so far: \"", buffered_, "\")"));
    }
    char chunk[4096];
    const ssize_t n = ::read(stdout_.get(), chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return absl::UnavailableError(
          absl::StrCat("client pid ", pid_, " closed its stdout"));
    }
    buffered_.append(chunk, n);
  }
}

absl::StatusOr<int> ClientProcess::Wait(absl::Duration timeout) {
  if (!WaitReadable(pidfd_.get(), absl::Now() + timeout)) {
    return absl::DeadlineExceededError(
        absl::StrCat("client pid ", pid_, " did not exit"));
  }
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return absl::InternalError(
      absl::StrCat("client pid ", pid_, " killed by signal ",
                   WIFSIGNALED(status) ? WTERMSIG(status) : -1));
}

absl::StatusOr<int> ClientProcess::Finish(absl::Duration timeout) {
  stdin_.Reset();
  return Wait(timeout);
}

void ClientProcess::Kill(int signal) {
  if (pid_ <= 0 || reaped_) return;
  ::kill(pid_, signal);
  (void)Wait(absl::Seconds(30));
}

}  // namespace shmport::testing
