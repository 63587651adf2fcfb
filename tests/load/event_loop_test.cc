// A process that serves many ports from one poll() loop, as port.h invites
// ("fd(): for epoll/poll loops: readable when a message, an SHM_ACK or the
// peer's close is waiting"): after draining a port with TryReceive it
// sleeps in poll() on the ports' fds, and must wake when a message comes.
//
// With the shared-memory ring (the default) a message goes into the ring,
// not the socket; fd() turns readable only because the TryReceive that
// found nothing raised the ring's sleep flag, so the sender adds a
// RING_WAKE. Without a ring every message crosses the socket.

#include "gtest/gtest.h"
#include "shmport/port.h"
#include "tests/ports/port_harness.h"
#include "tests/util/fd_wait.h"

namespace shmport::testing {
namespace {

bool Readable(int fd, absl::Duration timeout) {
  return WaitReadable(fd, absl::Now() + timeout);
}

// The loop's pattern on one port: drain, sleep in poll(), wake for the
// next message, take it without blocking.
void ExpectPollWakesForEachMessage(const PortOptions& options) {
  auto ports = OpenLocalPorts(options, options);
  ASSERT_TRUE(ports.ok()) << ports.status();
  for (uint32_t i = 0; i < 3; ++i) {
    while (true) {  // drain
      auto m = ports->b->TryReceive();
      ASSERT_TRUE(m.ok()) << m.status();
      if (!m->has_value()) break;
    }
    ASSERT_TRUE(ports->a->SendCopy(i, std::vector<uint8_t>(100, i)).ok());
    ASSERT_TRUE(Readable(ports->b->fd(), absl::Seconds(10)))
        << "message " << i << " is waiting, but fd() is not readable";
    auto m = ports->b->TryReceive();
    ASSERT_TRUE(m.ok()) << m.status();
    ASSERT_TRUE(m->has_value()) << "fd() was readable, nothing to receive";
    EXPECT_EQ((*m)->stream(), i);
  }
}

TEST(EventLoopTest, PollWakesForEachMessageWithoutARing) {
  PortOptions no_ring;
  no_ring.ring_capacity = 0;
  ExpectPollWakesForEachMessage(no_ring);
}

TEST(EventLoopTest, PollWakesForEachMessageWithTheDefaultRing) {
  ExpectPollWakesForEachMessage(PortOptions());
}

}  // namespace
}  // namespace shmport::testing
