#include "tests/security/foreign_process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/util/other_user.h"

namespace shmport::testing {
namespace {

std::string FindClient() {
  if (const char* srcdir = ::getenv("TEST_SRCDIR")) {
    return absl::StrCat(srcdir, "/shmport/tests/security/foreign_client");
  }
  return "bazel-bin/tests/security/foreign_client";
}

int PollTimeoutMs(absl::Time deadline) {
  const absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(
      absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))));
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
  std::unique_ptr<ForeignProcess> p(new ForeignProcess());
  absl::StatusOr<std::unique_ptr<BinaryCopy>> copy =
      BinaryCopy::Make(FindClient());
  if (!copy.ok()) return copy.status();
  p->copy_ = *std::move(copy);
  const std::string binary = p->copy_->path();

  std::vector<std::string> argv_strings = {binary};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
  }
  if (::pipe2(out, O_CLOEXEC) != 0) {
    ::close(in[0]);
    ::close(in[1]);
    return absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    ::dup2(in[0], STDIN_FILENO);
    ::dup2(out[1], STDOUT_FILENO);
    if (!BecomeUser(uid, gid) || ::chdir("/") != 0) ::_exit(126);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  p->pid_ = pid;
  p->stdin_.Reset(in[1]);
  p->stdout_.Reset(out[0]);
  return p;
}

ForeignProcess::~ForeignProcess() {
  stdin_.Reset();  // EOF: it exits
  if (pid_ > 0) {
    const absl::Time deadline = absl::Now() + absl::Seconds(5);
    int status;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (absl::Now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
  }
}

absl::StatusOr<std::string> ForeignProcess::Command(const std::string& line,
                                                    absl::Duration timeout) {
  const std::string text = line + "\n";
  if (::write(stdin_.get(), text.data(), text.size()) !=
      static_cast<ssize_t>(text.size())) {
    return absl::UnavailableError("the foreign client is gone");
  }
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const size_t newline = buffered_.find('\n');
    if (newline != std::string::npos) {
      std::string answer = buffered_.substr(0, newline);
      buffered_.erase(0, newline + 1);
      return answer;
    }
    pollfd p{stdout_.get(), POLLIN, 0};
    const int r = ::poll(&p, 1, PollTimeoutMs(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) {
      return absl::DeadlineExceededError(
          absl::StrCat("no answer to '", line, "'"));
    }
    char chunk[4096];
    const ssize_t n = ::read(stdout_.get(), chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return absl::UnavailableError(absl::StrCat(
          "the foreign client exited before answering '", line, "'"));
    }
    buffered_.append(chunk, static_cast<size_t>(n));
  }
}

}  // namespace shmport::testing
