// Security (issue 11, hole 8): a process of another uid that may connect
// to control.sock opens connections and leaves them idle. The daemon
// admits at most max_control_connections_per_uid of them (closing the rest
// at once), so its fds stay bounded and a client of another uid still
// works; a slot is given back when its connection ends.
//
// Switching uid needs root, which CI has; elsewhere these tests skip.
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "shmport/session.h"
#include "tests/security/foreign_uid_test.h"
#include "tests/util/process_census.h"

namespace shmport::testing {
namespace {

constexpr int kPerUid = 32;
constexpr int kAttempted = 200;

using ControlConnectionTest = ForeignUidTest;

TEST_F(ControlConnectionTest, IdleConnectionsOfAnotherUidAreCapped) {
  StartDaemon(absl::StrCat("policy { ", AdmitBoth(), " }",
                           "\nconnections { max_control_connections_per_uid: ",
                           kPerUid, " max_control_connections: 64 }"));
  SpawnForeign();
  const pid_t daemon_pid = daemon_->pid();
  const int baseline = CountOpenFds(daemon_pid);
  const std::string control = dir_ + "/control.sock";

  ASSERT_EQ(Ask(absl::StrCat("hold control ", control, " ", kAttempted)),
            absl::StrCat("ok ", kAttempted, " 0"));
  // Those beyond the cap are closed at once; the rest stay open.
  const std::string refused = absl::StrCat("ok ", kAttempted - kPerUid);
  EXPECT_EQ(Ask(absl::StrCat("closed ", kAttempted - kPerUid, " 10000")),
            refused);
  // Each admitted connection costs the daemon two fds (gRPC's and the
  // duplicate it watches), whatever was attempted.
  const int held = CountOpenFds(daemon_pid) - baseline;
  EXPECT_LE(held, 2 * kPerUid + 4) << held << " more fds";

  // A client of this uid registers, attaches and opens a port as usual.
  RightfulPort rightful = OpenRightfulPort("rightful");
  ASSERT_NE(rightful.port, nullptr);
  EXPECT_LT(rightful.took, absl::Seconds(5));
  EXPECT_EQ(Ask("closed 0 0"), refused);

  // Released, the slots come back: the whole cap can be taken again.
  rightful = {};
  EXPECT_EQ(Ask("release"), "ok");
  ASSERT_TRUE(Eventually([&] {
    return CountOpenFds(daemon_pid) <= baseline + 2;
  })) << CountOpenFds(daemon_pid) - baseline
      << " more fds than at the start";
  ASSERT_EQ(Ask(absl::StrCat("hold control ", control, " ", kPerUid)),
            absl::StrCat("ok ", kPerUid, " 0"));
  EXPECT_EQ(Ask("closed 1 500"), "ok 0");
}

}  // namespace
}  // namespace shmport::testing
