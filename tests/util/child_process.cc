#include "tests/util/child_process.h"

#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "shmport/unique_fd.h"
#include "tests/util/fd_wait.h"

namespace shmport::testing {
namespace {

std::string ReadProcFile(pid_t pid, const char* name) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/", name));
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\0')) s.pop_back();
  return s;
}

// What a child that did not end is doing: its state and CPU time (a
// spinning child is R with growing ticks, a blocked one S with its wait
// channel), and, where gdb is installed, every thread's stack on stderr.
std::string DescribeHang(pid_t pid) {
  const std::string stat = ReadProcFile(pid, "stat");
  const size_t paren = stat.rfind(')');
  std::string fields =
      paren == std::string::npos ? stat : stat.substr(paren + 2);
  std::istringstream in(fields);
  std::string state, skip, utime, stime;
  in >> state;
  for (int i = 0; i < 10; ++i) in >> skip;  // ppid .. cmajflt
  in >> utime >> stime;
  std::string description = absl::StrCat(
      "pid ", pid, " state ", state, ", ", utime, "+", stime, " ticks, wchan ",
      ReadProcFile(pid, "wchan"), ", syscall ", ReadProcFile(pid, "syscall"));
  if (::access("/usr/bin/gdb", X_OK) == 0) {
    std::fprintf(stderr, "--- stacks of the stuck child %d ---\n", pid);
    std::fflush(stderr);
    const std::string command =
        absl::StrCat("timeout 30 /usr/bin/gdb -p ", pid,
                     " -batch -nx -ex 'thread apply all bt' 1>&2 2>/dev/null");
    if (std::system(command.c_str()) != 0) {
      std::fprintf(stderr, "(gdb could not attach)\n");
    }
  }
  return description;
}

}  // namespace

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
      status_(other.status_),
      hang_(std::move(other.hang_)) {}

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
    hang_ = DescribeHang(pid_);
    std::fprintf(stderr, "child did not end within %s: %s\n",
                 absl::FormatDuration(timeout).c_str(), hang_.c_str());
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
  if (!status.has_value()) return absl::StrCat("timeout (", hang_, ")");
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
        earlier ? "" : " (killed)", hang_.empty() ? "" : ": ", hang_));
  }
  if (WIFEXITED(*status)) return WEXITSTATUS(*status);
  return absl::InternalError(
      absl::StrCat("pid ", pid_, " killed by signal ",
                   WIFSIGNALED(*status) ? WTERMSIG(*status) : -1));
}

}  // namespace shmport::testing
