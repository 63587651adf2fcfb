// Acceptance (issue 3, item 5): a peer killed with SIGKILL at random points
// while sending and while receiving. The survivor notices through the
// socket (EOF/POLLHUP wakes it: its calls return UNAVAILABLE long before
// their generous 10 s bound), frees everything, leaks no fd or mapping,
// and opens a new port.
#include <signal.h>

#include <random>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shmport/port.h"
#include "tests/ports/port_harness.h"
#include "tests/util/process_census.h"

namespace shmport {
namespace {

using testing::FillPattern;

constexpr int kTrials = 100;  // per direction
constexpr absl::Duration kBound = absl::Seconds(10);

int SendForever(Port& port) {
  std::mt19937 rng(::getpid());
  for (uint32_t i = 0;; ++i) {
    // Up to 8 of the 32 chunks per segment: what the survivor holds can
    // never starve this sender for good, even fragmented.
    auto b = port.Allocate(1 + rng() % 32768, kBound);
    if (!b.ok()) return 1;
    FillPattern(b->data(), b->size(), i);
    if (!port.Send(i, *std::move(b)).ok()) return 2;
  }
}

int ReceiveForever(Port& port) {
  std::vector<Message> held;
  for (uint32_t i = 0;; ++i) {
    auto m = port.Receive(kBound);
    if (!m.ok()) return 1;
    // Hold a little (never enough to starve the sender for good).
    if (i % 7 == 0) held.push_back(*std::move(m));
    if (held.size() > 2) held.clear();
  }
}

TEST(PortPeerDeathTest, SurvivorOfAKilledSenderWakesCleansUpAndReconnects) {
  std::mt19937 rng(1);
  for (int trial = 0; trial < kTrials; ++trial) {
    testing::ProcessCensus census;
    {
      auto peer =
          testing::ForkPeer(SendForever, testing::SmallPortOptions(32, 2),
                            testing::SmallPortOptions(32, 2));
      ASSERT_TRUE(peer.ok()) << peer.status();
      const int before_kill = rng() % 40;
      std::vector<Message> held;
      for (int i = 0; i < before_kill; ++i) {
        auto m = peer->port->Receive(kBound);
        ASSERT_TRUE(m.ok())
            << "trial " << trial << " message " << i << ": " << m.status()
            << " stats: chunks_in_use " << peer->port->stats().chunks_in_use;
        if (i % 3 == 0) held.push_back(*std::move(m));  // mappings in use
        if (held.size() > 2) held.erase(held.begin());
      }
      peer->child.Kill(SIGKILL);
      // Drain what was sent before the kill; then the EOF.
      const absl::Status end =
          testing::ReceiveUntilError(*peer->port, kBound, 100000);
      ASSERT_EQ(end.code(), absl::StatusCode::kUnavailable)
          << "trial " << trial << ": " << end;
      EXPECT_TRUE(peer->port->closed());
      EXPECT_EQ(peer->child.Wait(kBound), "signal 9");
    }
    ASSERT_EQ(census.LeakedFds(), 0) << "trial " << trial << census.Describe();
    ASSERT_EQ(census.LeakedMappings(), 0) << "trial " << trial;
  }
}

TEST(PortPeerDeathTest, SurvivorOfAKilledReceiverWakesCleansUpAndReconnects) {
  std::mt19937 rng(2);
  for (int trial = 0; trial < kTrials; ++trial) {
    testing::ProcessCensus census;
    {
      auto peer =
          testing::ForkPeer(ReceiveForever, testing::SmallPortOptions(32, 2),
                            testing::SmallPortOptions(32, 2));
      ASSERT_TRUE(peer.ok()) << peer.status();
      const int before_kill = rng() % 60;
      for (int i = 0; i < before_kill; ++i) {
        auto b = peer->port->Allocate(1 + rng() % 32768, kBound);
        ASSERT_TRUE(b.ok())
            << "trial " << trial << " message " << i << ": " << b.status();
        ASSERT_TRUE(peer->port->Send(i, *std::move(b)).ok());
      }
      peer->child.Kill(SIGKILL);
      // Keep sending: the pool fills (Allocate blocks on the dead peer) or
      // a send hits the closed socket. Either way: UNAVAILABLE, not a hang.
      absl::Status end;
      for (int i = 0; i < 100000 && end.ok(); ++i) {
        auto b = peer->port->Allocate(20000, kBound);
        if (!b.ok()) {
          end = b.status();
          break;
        }
        end = peer->port->Send(i, *std::move(b));
      }
      ASSERT_EQ(end.code(), absl::StatusCode::kUnavailable)
          << "trial " << trial << ": " << end;
      EXPECT_EQ(peer->child.Wait(kBound), "signal 9");
    }
    ASSERT_EQ(census.LeakedFds(), 0) << "trial " << trial << census.Describe();
    ASSERT_EQ(census.LeakedMappings(), 0) << "trial " << trial;
  }
  // After all that, a fresh port to a fresh process works.
  auto peer = testing::ForkPeer([](Port& port) -> int {
    auto m = port.Receive(kBound);
    return m.ok() && m->ToString() == std::string(50000, 'z') ? 0 : 1;
  });
  ASSERT_TRUE(peer.ok());
  ASSERT_TRUE(peer->port->SendCopy(1, std::vector<uint8_t>(50000, 'z')).ok());
  EXPECT_EQ(peer->child.Wait(kBound), "exit 0");
}

TEST(PortPeerDeathTest, BlockedAllocateWakesWhenTheHoldingPeerDies) {
  testing::Signal holding;
  auto peer = testing::ForkPeer(
      [&](Port& port) -> int {
        holding.KeepWriteEnd();
        auto m = port.Receive(kBound);  // hold the only chunk
        holding.Notify();
        ::pause();  // until SIGKILL
        return 0;
      },
      testing::SmallPortOptions(1, 1), testing::SmallPortOptions(1, 1));
  ASSERT_TRUE(peer.ok());
  holding.KeepReadEnd();
  ASSERT_TRUE(peer->port->SendCopy(1, std::vector<uint8_t>(4096)).ok());
  ASSERT_TRUE(holding.Wait(kBound).has_value());
  // The pool is exhausted; the kill must wake the blocked Allocate.
  std::thread killer([&] { peer->child.Kill(SIGKILL); });
  auto b = peer->port->Allocate(4096, absl::Seconds(30));
  killer.join();
  EXPECT_EQ(b.status().code(), absl::StatusCode::kUnavailable) << b.status();
  EXPECT_THAT(std::string(peer->port->closed_reason().message()),
              ::testing::HasSubstr("peer closed the connection"));
}

}  // namespace
}  // namespace shmport
