// Port lifecycles the fault suite ran into: an end dropped while messages
// wait in its inbox, and a peer that sends and exits before this end has
// finished opening.
//
// Dropped with messages queued: a shared-memory Message holds its
// PortCore and the core's inbox holds the Messages, so a Port destroyed
// with unread ones leaked the core, its socket, eventfd and mappings. The
// fault suite found it as workers holding mappings after closing every
// port; fixed by b45b8c3 (~Port drops the inbox). Kept as a regression
// test with its own census.
//
// PRODUCT BUG (disabled until fixed in client/port_core.cc): a peer that
// completes its Open, sends, and exits before this end's Open has sent its
// NEW_RING makes this end's Open fail ("the peer closed the connection
// (send: the peer closed its end)"), and the messages the peer sent, which
// are queued in the socket and the peer's ring, are lost. Session makes
// this likely: the link thread sends HELLO when the notice arrives, but
// the Open (HELLO check, then StartRing) runs only at AcceptPort, so a
// short-lived opener that sends one message and exits loses it although
// its OpenPort and Send succeeded. Fix: in StartRing (and anywhere during
// Open), treat EPIPE/ECONNRESET like a peer close after the handshake:
// open the port without an outgoing ring, deliver what was received, then
// report UNAVAILABLE from Receive.
#include <unistd.h>

#include "gtest/gtest.h"
#include "shmport/port.h"
#include "tests/fault/child_check.h"
#include "tests/ports/port_harness.h"
#include "tests/util/process_census.h"

namespace shmport::testing {
namespace {

constexpr absl::Duration kBound = absl::Seconds(10);

TEST(PortDropTest, PortDroppedWithNothingQueuedReleasesEverything) {
  ProcessCensus census;
  {
    auto ports = OpenLocalPorts(SmallPortOptions(4, 1), SmallPortOptions(4, 1));
    ASSERT_TRUE(ports.ok()) << ports.status();
    ASSERT_TRUE(ports->a->SendCopy(1, std::vector<uint8_t>(4096, 1)).ok());
    auto m = ports->b->Receive(kBound);
    ASSERT_TRUE(m.ok()) << m.status();
  }
  EXPECT_EQ(census.LeakedFds(), 0) << census.Describe();
  EXPECT_EQ(census.LeakedMappings(), 0);
}

TEST(PortDropTest,
     PortDroppedWithQueuedSharedMemoryMessagesReleasesEverything) {
  ProcessCensus census;
  {
    auto ports = OpenLocalPorts(SmallPortOptions(4, 1), SmallPortOptions(4, 1));
    ASSERT_TRUE(ports.ok()) << ports.status();
    // The first message announces the segment (on the socket).
    ASSERT_TRUE(ports->a->SendCopy(1, std::vector<uint8_t>(4096, 1)).ok());
    auto m = ports->b->Receive(kBound);
    ASSERT_TRUE(m.ok()) << m.status();
    m = Message();
    // Two more through the ring: the receiver takes in both at once and
    // hands out the first; the second stays queued.
    ASSERT_TRUE(ports->a->SendCopy(2, std::vector<uint8_t>(4096, 2)).ok());
    ASSERT_TRUE(ports->a->SendCopy(3, std::vector<uint8_t>(4096, 3)).ok());
    m = ports->b->Receive(kBound);
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_EQ(m->stream(), 2u);
    // b is dropped here with message 3 in its inbox.
  }
  EXPECT_EQ(census.LeakedFds(), 0) << census.Describe();
  EXPECT_EQ(census.LeakedMappings(), 0);
}

// The peer opens, sends one message and exits, all before this end opens
// (as AcceptPort after the Session's early HELLO). The message must arrive.
TEST(PeerExitBeforeOpenTest, MessageOfAPeerThatExitedBeforeOpenArrives) {
  ProcessCensus census;
  {
    SocketPair sp = MakeSocketPair();
    const pid_t parent = ::getpid();
    PortOptions mine;
    ASSERT_TRUE(Port::SendHello(sp.a.get(), mine).ok());
    mine.hello_already_sent = true;
    ChildProcess child = ChildProcess::Fork([&]() -> int {
      sp.a.Reset();
      auto port = Port::Open(std::move(sp.b), {.pid = parent}, PortOptions());
      CHILD_CHECK(port.ok(), port.status().ToString());
      const absl::Status sent =
          (*port)->SendCopy(5, std::vector<uint8_t>(100, 5));
      CHILD_CHECK(sent.ok(), sent.ToString());
      return 0;
    });
    sp.b.Reset();
    ASSERT_EQ(child.Wait(kBound), "exit 0");
    auto port = Port::Open(std::move(sp.a), {.pid = child.pid()}, mine);
    ASSERT_TRUE(port.ok()) << port.status();
    auto m = (*port)->Receive(kBound);
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_EQ(m->stream(), 5u);
    EXPECT_EQ((*port)->Receive(kBound).status().code(),
              absl::StatusCode::kUnavailable);
  }
  EXPECT_EQ(census.LeakedFds(), 0) << census.Describe();
  EXPECT_EQ(census.LeakedMappings(), 0);
}

}  // namespace
}  // namespace shmport::testing
