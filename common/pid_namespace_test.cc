#include "common/pid_namespace.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/util/child_process.h"

namespace shmport {
namespace {

TEST(PidNamespaceTest, ThisProcessIsItsOwnInnermostPid) {
  absl::StatusOr<pid_t> inner = InnermostPid(::getpid());
  ASSERT_TRUE(inner.ok()) << inner.status();
  EXPECT_EQ(*inner, ::getpid());
  absl::StatusOr<uint64_t> self = PidNamespaceOf(0);
  absl::StatusOr<uint64_t> by_pid = PidNamespaceOf(::getpid());
  ASSERT_TRUE(self.ok()) << self.status();
  ASSERT_TRUE(by_pid.ok()) << by_pid.status();
  EXPECT_NE(*self, 0u);
  EXPECT_EQ(*self, *by_pid);
}

TEST(PidNamespaceTest, AnAbsentProcessIsAnInvalidArgument) {
  // Above /proc/sys/kernel/pid_max's ceiling (2^22): never a live pid.
  EXPECT_EQ(InnermostPid(INT_MAX).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PidNamespaceOf(INT_MAX).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// A child in a pid namespace of its own (root only): pid 1 there, another
// pid here, another namespace.
TEST(PidNamespaceTest, AProcessInANewPidNamespaceIsPidOneThere) {
  int pid_pipe[2], hold[2];
  ASSERT_EQ(::pipe2(pid_pipe, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(hold, O_CLOEXEC), 0);
  testing::ChildProcess child = testing::ChildProcess::Fork([&] {
    ::close(hold[1]);
    if (::unshare(CLONE_NEWPID) != 0) return 2;
    const pid_t inner = ::fork();  // pid 1 of the new namespace
    if (inner < 0) return 3;
    if (inner == 0) {
      char c;
      while (::read(hold[0], &c, 1) > 0) {
      }
      ::_exit(0);
    }
    if (::write(pid_pipe[1], &inner, sizeof(inner)) != sizeof(inner)) return 4;
    int status = 0;
    ::waitpid(inner, &status, 0);
    return 0;
  });
  ::close(pid_pipe[1]);
  ::close(hold[0]);
  pid_t inner = 0;
  const ssize_t n = ::read(pid_pipe[0], &inner, sizeof(inner));
  ::close(pid_pipe[0]);
  if (n != sizeof(inner)) {
    ::close(hold[1]);
    const std::string how = child.Wait();
    if (how == "exit 2") GTEST_SKIP() << "unshare(CLONE_NEWPID) needs root";
    FAIL() << "the child said nothing: " << how;
  }
  absl::StatusOr<pid_t> innermost = InnermostPid(inner);
  absl::StatusOr<uint64_t> its_namespace = PidNamespaceOf(inner);
  absl::StatusOr<uint64_t> ours = PidNamespaceOf(0);
  ::close(hold[1]);
  EXPECT_EQ(child.Wait(), "exit 0");
  ASSERT_TRUE(innermost.ok()) << innermost.status();
  ASSERT_TRUE(its_namespace.ok()) << its_namespace.status();
  EXPECT_NE(inner, 1);
  EXPECT_EQ(*innermost, 1);
  EXPECT_NE(*its_namespace, *ours);
}

}  // namespace
}  // namespace shmport
