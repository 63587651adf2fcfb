// light_zygote: the process that forks LightProcess children
// (tests/control/light_process.h). It is exec'd once, so it is a fresh
// single-threaded process, and every child forked from it is safe to run:
// a child forked from a multi-threaded test (gRPC's threads) may inherit a
// lock another thread held at the fork — stdio's, or the allocator's under
// ASan, whose GCC 12 runtime does not intercept fork — and hang on it
// forever.
//
// Usage: light_zygote FD, FD a SOCK_SEQPACKET socket to the test process,
// which is a child subreaper (PR_SET_CHILD_SUBREAPER). Each datagram asks
// for one child; the zygote forks a middle process that forks the child and
// exits, so that the child is reparented to the test process, which reaps
// it. The answer: i32 pid (or -1) and i32 errno, with the test's end of the
// child's channel attached. EOF on FD ends the zygote.
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>

#include "common/unix_channel.h"
#include "tests/control/light_child.h"

namespace shmport::testing {
namespace {

// Forks the child on `end` through a middle process; returns its pid, or
// -errno. The child is the test process's once this returns.
pid_t ForkOrphan(int end) {
  int pid_pipe[2];
  if (::pipe2(pid_pipe, O_CLOEXEC) != 0) return -errno;
  const pid_t middle = ::fork();
  if (middle < 0) {
    const int error = errno;
    ::close(pid_pipe[0]);
    ::close(pid_pipe[1]);
    return -error;
  }
  if (middle == 0) {
    const pid_t child = ::fork();
    if (child == 0) {
      // Keep only stdio and the channel: without exec, CLOEXEC closes
      // nothing, and a child holding another child's channel would keep
      // that one from seeing its EOF.
      ::close_range(3, end - 1, 0);
      ::close_range(end + 1, ~0U, 0);
      ::_exit(RunLightChild(end));
    }
    const int32_t reported = child < 0 ? -errno : child;
    const bool written =
        ::write(pid_pipe[1], &reported, sizeof(reported)) == sizeof(reported);
    ::_exit(written ? 0 : 1);
  }
  ::close(pid_pipe[1]);
  int32_t child = -EPIPE;
  if (::read(pid_pipe[0], &child, sizeof(child)) != sizeof(child)) {
    child = -EPIPE;
  }
  ::close(pid_pipe[0]);
  // Once the middle process is reaped, its orphan has been reparented.
  while (::waitpid(middle, nullptr, 0) < 0 && errno == EINTR) {
  }
  return child;
}

int Serve(UnixChannel& test) {
  while (true) {
    uint8_t request = 0;
    auto received = test.Receive(absl::MakeSpan(&request, 1));
    if (!received.ok() || !received->has_value()) return 0;  // test is done
    int ends[2];
    int32_t answer[2] = {-1, 0};
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) {
      answer[1] = errno;
      if (!test
               .Send(absl::MakeConstSpan(
                   reinterpret_cast<const uint8_t*>(answer), sizeof(answer)))
               .ok()) {
        return 1;
      }
      continue;
    }
    const pid_t child = ForkOrphan(ends[1]);
    ::close(ends[1]);
    answer[0] = child > 0 ? child : -1;
    answer[1] = child > 0 ? 0 : -child;
    const int fds[1] = {ends[0]};
    const absl::Status sent = test.Send(
        absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(answer),
                            sizeof(answer)),
        child > 0 ? absl::MakeConstSpan(fds) : absl::Span<const int>());
    ::close(ends[0]);
    if (!sent.ok()) return 1;
  }
}

}  // namespace
}  // namespace shmport::testing

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  shmport::UnixChannel test{shmport::UniqueFd(std::atoi(argv[1]))};
  return shmport::testing::Serve(test);
}
