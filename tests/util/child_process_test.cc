// The test helpers' own contract: a child that does not end in time is
// killed, reaped, and described (so that a hang in CI says where it hung).
#include "tests/util/child_process.h"

#include <unistd.h>

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/util/eventually.h"

namespace shmport::testing {
namespace {

using ::testing::HasSubstr;

TEST(ChildProcessTest, ReportsTheExitCode) {
  ChildProcess child = ChildProcess::Fork([] { return 3; });
  EXPECT_EQ(child.Wait(absl::Seconds(30)), "exit 3");
}

TEST(ChildProcessTest, AStuckChildIsKilledAndDescribed) {
  int never[2];
  ASSERT_EQ(::pipe(never), 0);
  ChildProcess child = ChildProcess::Fork([&] {
    char byte;
    return static_cast<int>(::read(never[0], &byte, 1));  // blocks forever
  });
  // Wait until it sits in read(2) (syscall 0), so that the description
  // cannot catch it anywhere else.
  const std::string syscall = absl::StrCat("/proc/", child.pid(), "/syscall");
  ASSERT_TRUE(Eventually(
      [&] {
        std::ifstream in(syscall);
        std::string number;
        return in >> number && number == "0";
      },
      absl::Seconds(30)));
  const std::string result = child.Wait(absl::Milliseconds(1));
  // Blocked in read(2): state S, and the syscall number (0) first.
  EXPECT_THAT(result, HasSubstr("timeout (pid "));
  EXPECT_THAT(result, HasSubstr(" state S"));
  EXPECT_THAT(result, HasSubstr("syscall 0 "));
  EXPECT_EQ(child.Wait(absl::Seconds(1)), "already reaped");
  ::close(never[0]);
  ::close(never[1]);
}

}  // namespace
}  // namespace shmport::testing
