// A process that serves many ports from one poll() loop, as port.h invites
// ("fd(): for epoll/poll loops: readable when a message, an SHM_ACK or the
// peer's close is waiting"): after draining a port with TryReceive it
// sleeps in poll() on the ports' fds, and must wake when a message comes.
//
// PRODUCT BUG (disabled until fixed in client/port_core.cc): with the
// shared-memory ring (ring_capacity > 0, the default) a message sent while
// the receiver is not inside a blocking Receive goes into the ring without
// a wake-up: the sender writes RING_WAKE on the socket only when the
// reader raised the ring's sleep flag, and only PumpOnce (a blocking
// Receive) raises it. TryReceive leaves it down, so fd() never turns
// readable and an event loop sleeps on a waiting message until something
// else wakes it (found while designing the soak's workers, which therefore
// use a blocking Receive per port). Without a ring (ring_capacity = 0 on
// either end) every message crosses the socket and the loop works. Fix:
// have TryReceive, when it finds nothing, raise the sleep flag (as
// PrepareToSleep does, re-checking the ring), so the next publish sends a
// RING_WAKE; or document that fd() needs ring_capacity = 0.
#include <poll.h>

#include "client/port.h"
#include "gtest/gtest.h"
#include "tests/ports/port_harness.h"

namespace shmport::testing {
namespace {

bool Readable(int fd, absl::Duration timeout) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) >
         0;
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

TEST(EventLoopTest, DISABLED_PollWakesForEachMessageWithTheDefaultRing) {
  ExpectPollWakesForEachMessage(PortOptions());
}

}  // namespace
}  // namespace shmport::testing
