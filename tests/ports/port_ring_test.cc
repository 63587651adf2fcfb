// The small-message fast path (issue 6): ordered messages travel through a
// shared-memory ring, with the socket for fds, wake-ups and overflow. These
// tests pin down its correctness; speed lives in bench/.
#include <signal.h>

#include <atomic>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shmport/port.h"
#include "tests/ports/port_harness.h"
#include "tests/util/process_census.h"

namespace shmport {
namespace {

using testing::CheckPattern;
using testing::FillPattern;

constexpr absl::Duration kBound = absl::Seconds(20);

PortOptions RingOptions(uint32_t ring_capacity) {
  PortOptions o = testing::SmallPortOptions(8, 16);
  o.ring_capacity = ring_capacity;
  o.idle_segment_timeout = absl::ZeroDuration();  // segments come and go
  return o;
}

// Inline messages take the ring; a new segment's fd must take the socket;
// idle segments are released and re-announced. Whatever path each message
// takes, the receiver sees the sender's order.
TEST(PortRingTest, OrderHoldsAcrossRingAndFdCarryingSocketMessages) {
  auto ports =
      testing::OpenLocalPorts(RingOptions(64 * 1024), RingOptions(64 * 1024));
  ASSERT_TRUE(ports.ok()) << ports.status();
  std::atomic<bool> ok{true};
  constexpr int kMessages = 20000;
  std::thread receiver([&] {
    for (int i = 0; i < kMessages; ++i) {
      auto m = ports->b->Receive(kBound);
      if (!m.ok() || m->stream() != static_cast<uint32_t>(i) ||
          !CheckPattern(*m, i)) {
        ok = false;
        return;
      }
    }
  });
  std::vector<Buffer> held;  // forces new segments now and then
  for (int i = 0; i < kMessages; ++i) {
    const size_t size = i % 5 == 0 ? 4096 * (1 + i % 3) : 1 + i % 900;
    auto b = ports->a->Allocate(size, kBound);
    ASSERT_TRUE(b.ok()) << b.status();
    FillPattern(b->data(), size, i);
    ASSERT_TRUE(ports->a->Send(i, *std::move(b)).ok());
    if (i % 997 == 0) {
      for (int k = 0; k < 8; ++k) held.push_back(*ports->a->Allocate(4096));
    }
    if (i % 997 == 500) held.clear();
  }
  receiver.join();
  EXPECT_TRUE(ok);
  const PortStats s = ports->a->stats();
  EXPECT_GT(s.sent_via_ring, uint64_t{kMessages / 2});
  EXPECT_GT(s.ring_fallbacks, 0u);  // NEW_SEGMENTs crossed the socket
}

TEST(PortRingTest, FullRingFallsBackToTheSocketAndReturns) {
  auto ports = testing::OpenLocalPorts(RingOptions(4096), RingOptions(4096));
  ASSERT_TRUE(ports.ok());
  // The receiver is not reading: the ring fills, the socket takes over.
  constexpr int kBurst = 300;
  for (int i = 0; i < kBurst; ++i) {
    std::vector<uint8_t> payload(100);
    FillPattern(payload.data(), payload.size(), i);
    ASSERT_TRUE(ports->a->SendCopy(i, payload).ok());
  }
  PortStats s = ports->a->stats();
  EXPECT_EQ(s.ring_fallbacks, 1u);
  EXPECT_LT(s.sent_via_ring, uint64_t{kBurst});
  for (int i = 0; i < kBurst; ++i) {
    auto m = ports->b->Receive(kBound);
    ASSERT_TRUE(m.ok()) << m.status();
    ASSERT_EQ(m->stream(), static_cast<uint32_t>(i));
    ASSERT_TRUE(CheckPattern(*m, i));
  }
  // The receiver has caught up: the next messages use the ring again.
  const uint64_t via_ring = ports->a->stats().sent_via_ring;
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(ports->a->SendCopy(kBurst + i, std::vector<uint8_t>(8)).ok());
    auto m = ports->b->Receive(kBound);
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(m->stream(), static_cast<uint32_t>(kBurst + i));
  }
  EXPECT_EQ(ports->a->stats().sent_via_ring, via_ring + 10);
}

TEST(PortRingTest, WithoutARingOnEitherSideEverythingTakesTheSocket) {
  PortOptions no_ring;
  no_ring.ring_capacity = 0;
  auto ports = testing::OpenLocalPorts(PortOptions(), no_ring);
  ASSERT_TRUE(ports.ok());
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(ports->a->SendCopy(i, std::vector<uint8_t>(10)).ok());
    ASSERT_TRUE(ports->b->SendCopy(i, std::vector<uint8_t>(10)).ok());
  }
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(ports->b->Receive(kBound)->stream(), static_cast<uint32_t>(i));
    EXPECT_EQ(ports->a->Receive(kBound)->stream(), static_cast<uint32_t>(i));
  }
  EXPECT_EQ(ports->a->stats().sent_via_ring, 0u);
  EXPECT_EQ(ports->b->stats().sent_via_ring, 0u);
}

// Each side sleeps on every message (no spinning), so every message needs
// a wake-up through the socket; a lost one would stall a side until kBound.
TEST(PortRingConcurrencyTest, PingPongNeverLosesAWakeUp) {
  auto ports = testing::OpenLocalPorts(RingOptions(4096), RingOptions(4096));
  ASSERT_TRUE(ports.ok());
  constexpr int kRounds = 5000;
  std::atomic<bool> ok{true};
  std::thread echo([&] {
    for (int i = 0; i < kRounds; ++i) {
      auto m = ports->b->Receive(kBound);
      if (!m.ok() || !ports->b->SendCopy(m->stream(), {}).ok()) {
        ok = false;
        return;
      }
    }
  });
  for (int i = 0; i < kRounds && ok; ++i) {
    ASSERT_TRUE(ports->a->SendCopy(i, {}).ok());
    auto m = ports->a->Receive(kBound);
    ASSERT_TRUE(m.ok()) << "round " << i << ": " << m.status();
    ASSERT_EQ(m->stream(), static_cast<uint32_t>(i));
  }
  echo.join();
  EXPECT_TRUE(ok);
  EXPECT_EQ(ports->a->stats().sent_via_ring, uint64_t{kRounds});
}

TEST(PortRingConcurrencyTest, SpinningReceiverGetsEveryMessage) {
  PortOptions spin = RingOptions(64 * 1024);
  spin.receive_spin = absl::Microseconds(50);
  auto ports = testing::OpenLocalPorts(spin, spin);
  ASSERT_TRUE(ports.ok());
  constexpr int kRounds = 1000;
  std::thread echo([&] {
    for (int i = 0; i < kRounds; ++i) {
      auto m = ports->b->Receive(kBound);
      if (!m.ok()) return;
      ports->b
          ->SendCopy(m->stream(),
                     m->ToString() == "ping"
                         ? absl::MakeConstSpan(
                               reinterpret_cast<const uint8_t*>("pong"), 4)
                         : absl::Span<const uint8_t>())
          .IgnoreError();
    }
  });
  for (int i = 0; i < kRounds; ++i) {
    ASSERT_TRUE(
        ports->a
            ->SendCopy(i, absl::MakeConstSpan(
                              reinterpret_cast<const uint8_t*>("ping"), 4))
            .ok());
    auto m = ports->a->Receive(kBound);
    ASSERT_TRUE(m.ok());
    ASSERT_EQ(m->ToString(), "pong");
  }
  echo.join();
}

// A sender killed with messages still in its ring: they were sent, so the
// survivor gets every one, then UNAVAILABLE, and nothing leaks.
TEST(PortRingTest, MessagesInTheRingOfAKilledPeerAreStillDelivered) {
  testing::ProcessCensus census;
  {
    testing::Signal sent;
    constexpr int kMessages = 500;
    auto peer = testing::ForkPeer(
        [&](Port& port) -> int {
          sent.KeepWriteEnd();
          for (int i = 0; i < kMessages; ++i) {
            std::vector<uint8_t> payload(64);
            FillPattern(payload.data(), payload.size(), i);
            if (!port.SendCopy(i, payload).ok()) return 1;
          }
          sent.Notify();
          ::pause();  // until SIGKILL: no BYE, no orderly close
          return 0;
        },
        RingOptions(256 * 1024), RingOptions(256 * 1024));
    ASSERT_TRUE(peer.ok());
    sent.KeepReadEnd();
    ASSERT_TRUE(sent.Wait(kBound).has_value());
    peer->child.Kill(SIGKILL);
    EXPECT_EQ(peer->child.Wait(kBound), "signal 9");
    for (int i = 0; i < kMessages; ++i) {
      auto m = peer->port->Receive(kBound);
      ASSERT_TRUE(m.ok()) << i << ": " << m.status();
      ASSERT_EQ(m->stream(), static_cast<uint32_t>(i));
      ASSERT_TRUE(CheckPattern(*m, i));
    }
    auto end = peer->port->Receive(kBound);
    EXPECT_EQ(end.status().code(), absl::StatusCode::kUnavailable);
  }
  EXPECT_EQ(census.LeakedFds(), 0) << census.Describe();
  EXPECT_EQ(census.LeakedMappings(), 0);
}

}  // namespace
}  // namespace shmport
