// Acceptance (issue 11, hole 6), end to end: the daemon's grant travels in
// PortOpened to both ends, and a Session holds its peer to it.
#include <unistd.h>

#include <string>

#include "common/segment_layout.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shmport/session.h"
#include "tests/control/daemon_process.h"
#include "tests/control/raw_client.h"

namespace shmport::testing {
namespace {

using ::testing::HasSubstr;

constexpr absl::Duration kBound = absl::Seconds(10);

TEST(PortGrantTest, APeerDeclaringMoreThanItsGrantIsRefusedByTheSession) {
  auto daemon = DaemonProcess::Start();
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  auto stub = (*daemon)->NewStub();
  auto victim =
      Session::Connect({.name = "victim", .address = (*daemon)->address()});
  ASSERT_TRUE(victim.ok()) << victim.status();
  auto attacker = RegisterAndAttach(*stub, "attacker");
  ASSERT_TRUE(attacker.ok()) << attacker.status();

  v1::OpenPortResponse opened;
  ASSERT_TRUE(OpenPortByName(*stub, *attacker, "victim", &opened).ok());
  auto notice = NextNotice(attacker->link, kBound);
  ASSERT_TRUE(notice.ok()) << notice.status();
  ASSERT_TRUE(notice->frame.has_port_opened());
  const v1::PortOpened& grant = notice->frame.port_opened();
  const v1::Geometry& g = grant.geometry();
  EXPECT_EQ(
      grant.max_bytes_per_direction(),
      uint64_t{g.max_segments()} *
          (layout::kHeaderSize + uint64_t{g.chunk_size()} * g.chunk_count()));
  ASSERT_LT(g.max_segments(), 63u);

  // The attacker's end speaks for itself: 63 segments of 64 MiB.
  PortOptions greedy;
  greedy.geometry = {64 * 1024, 1024};
  greedy.max_segments = 63;
  greedy.port_id = opened.port_id();
  ASSERT_TRUE(Port::SendHello(notice->fd.get(), greedy).ok());

  auto port = (*victim)->AcceptPort(kBound);
  ASSERT_FALSE(port.ok());
  EXPECT_THAT(std::string(port.status().message()),
              HasSubstr("declares max_segments 63; this end accepts [1, " +
                        std::to_string(g.max_segments()) + "]"));
}

}  // namespace
}  // namespace shmport::testing
