// The lock-free paths of one receiver and one sender (decision D33) meeting
// the threads that take the shared paths: a second receiver arriving while
// the lone reader holds the reader role, a second sender starting while the
// lone sender appends, and Close during either. Tagged "concurrency": run
// under TSan too.
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "shmport/port.h"
#include "tests/ports/port_harness.h"

namespace shmport {
namespace {

using testing::OpenLocalPorts;

constexpr absl::Duration kLong = absl::Seconds(10);

// Waits (yielding, bounded) until `port`'s receiver has started spinning on
// the ring past `spins`: it holds the reader role then, in Receive.
bool WaitUntilSpinning(const Port& port, uint64_t spins) {
  const absl::Time give_up = absl::Now() + kLong;
  while (port.stats().receive_spins == spins) {
    if (absl::Now() >= give_up) return false;
    std::this_thread::yield();
  }
  return true;
}

// A receiver that spins on the ring until a message comes, so that it holds
// the reader role for as long as the test needs.
PortOptions Spinning() {
  PortOptions o;
  o.receive_spin = kLong;
  return o;
}

absl::StatusOr<uint32_t> ReceiveStream(Port& port) {
  auto m = port.Receive(kLong);
  if (!m.ok()) return m.status();
  return m->stream();
}

TEST(PortLonePathTest, SecondReceiverGetsTheMessageAfterTheLoneReaders) {
  auto ports = OpenLocalPorts({}, Spinning());
  ASSERT_TRUE(ports.ok()) << ports.status();
  Port& a = *ports->a;
  Port& b = *ports->b;
  ASSERT_TRUE(a.SendCopy(0, std::vector<uint8_t>(64, 0)).ok());
  ASSERT_TRUE(b.Receive(kLong).ok());  // b reads a's ring from now on
  for (uint32_t round = 1; round <= 200; ++round) {
    const uint64_t spins = b.stats().receive_spins;
    absl::StatusOr<uint32_t> first, second;
    std::thread lone([&] { first = ReceiveStream(b); });
    ASSERT_TRUE(WaitUntilSpinning(b, spins));
    // Finds the role taken: waits on the shared path.
    std::thread other([&] { second = ReceiveStream(b); });
    ASSERT_TRUE(a.SendCopy(2 * round, std::vector<uint8_t>(64, 1)).ok());
    lone.join();
    // The lone reader gave the role back; the waiter must wake and read.
    ASSERT_TRUE(a.SendCopy(2 * round + 1, std::vector<uint8_t>(64, 2)).ok());
    other.join();
    ASSERT_TRUE(first.ok()) << first.status();
    ASSERT_TRUE(second.ok()) << "round " << round << ": " << second.status();
    EXPECT_EQ(*first, 2 * round);
    EXPECT_EQ(*second, 2 * round + 1);
  }
}

TEST(PortLonePathTest, ReceiversSharingAPortGetEveryMessageOnceInOrder) {
  auto ports = OpenLocalPorts();
  ASSERT_TRUE(ports.ok()) << ports.status();
  constexpr int kThreads = 3, kMessages = 6000;
  std::vector<std::vector<uint32_t>> got(kThreads);
  std::atomic<int> left{kMessages};
  std::vector<std::thread> receivers;
  for (int t = 0; t < kThreads; ++t) {
    receivers.emplace_back([&, t] {
      while (left.fetch_sub(1) > 0) {
        auto s = ReceiveStream(*ports->b);
        if (!s.ok()) return;
        got[t].push_back(*s);
      }
    });
  }
  for (int i = 0; i < kMessages; ++i) {
    // Both kinds: a ring entry of its own, and a burst the reader's batch
    // holds more than one of (the rest goes through the inbox).
    const size_t size = i % 7 == 0 ? 4096 : 64;
    ASSERT_TRUE(ports->a->SendCopy(i, std::vector<uint8_t>(size, 1)).ok());
  }
  for (auto& r : receivers) r.join();
  std::vector<int> seen(kMessages, 0);
  size_t total = 0;
  for (const auto& one : got) {
    total += one.size();
    // Each thread sees its messages in the order sent.
    for (size_t i = 1; i < one.size(); ++i) EXPECT_LT(one[i - 1], one[i]);
    for (uint32_t s : one) ++seen[s];
  }
  EXPECT_EQ(total, size_t{kMessages});
  for (int i = 0; i < kMessages; ++i) EXPECT_EQ(seen[i], 1) << "message " << i;
}

TEST(PortLonePathTest, CloseEndsTheLoneReaderAndTheWaiter) {
  for (int round = 0; round < 50; ++round) {
    auto ports = OpenLocalPorts({}, Spinning());
    ASSERT_TRUE(ports.ok()) << ports.status();
    Port& a = *ports->a;
    Port& b = *ports->b;
    ASSERT_TRUE(a.SendCopy(0, std::vector<uint8_t>(64, 0)).ok());
    ASSERT_TRUE(b.Receive(kLong).ok());
    const uint64_t spins = b.stats().receive_spins;
    absl::StatusOr<uint32_t> first, second;
    std::thread lone([&] { first = ReceiveStream(b); });
    ASSERT_TRUE(WaitUntilSpinning(b, spins));
    std::thread other([&] { second = ReceiveStream(b); });
    // The peer goes: its BYE reaches the lone reader through the ring.
    if (round % 2 == 0) {
      a.Close();
    } else {
      ports->a.reset();
    }
    lone.join();
    other.join();
    EXPECT_EQ(first.status().code(), absl::StatusCode::kUnavailable)
        << first.status();
    EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable)
        << second.status();
  }
}

TEST(PortLonePathTest, ClosingThisEndEndsItsLoneReader) {
  auto ports = OpenLocalPorts();
  ASSERT_TRUE(ports.ok()) << ports.status();
  Port& b = *ports->b;
  const uint64_t spins = b.stats().receive_spins;
  absl::StatusOr<uint32_t> first, second;
  std::thread lone([&] { first = ReceiveStream(b); });
  std::thread other([&] { second = ReceiveStream(b); });
  ASSERT_TRUE(WaitUntilSpinning(b, spins));
  b.Close();
  lone.join();
  other.join();
  EXPECT_FALSE(first.ok());
  EXPECT_FALSE(second.ok());
  EXPECT_FALSE(b.Receive(absl::Milliseconds(1)).ok());
}

// The peer's segment table is the reader's (D33): closing this end while
// a lone reader holds the role leaves the table to it, and it drops the
// segments as it gives the role back; a Message already out keeps its
// mapping.
TEST(PortLonePathTest, CloseDuringALoneReadDropsThePeersSegmentsAtTheEnd) {
  auto ports = OpenLocalPorts({}, Spinning());
  ASSERT_TRUE(ports.ok()) << ports.status();
  Port& a = *ports->a;
  Port& b = *ports->b;
  auto buffer = a.Allocate(4096, kLong);
  ASSERT_TRUE(buffer.ok()) << buffer.status();
  testing::FillPattern(buffer->data(), buffer->size(), 7);
  ASSERT_TRUE(a.Send(1, *std::move(buffer)).ok());
  auto held = b.Receive(kLong);
  ASSERT_TRUE(held.ok()) << held.status();
  ASSERT_EQ(b.stats().segments_in, 1u);
  // NEW_SEGMENT took the socket; the next message brings b back to the
  // ring (RING_RESUME), where it spins.
  ASSERT_TRUE(a.SendCopy(2, std::vector<uint8_t>(64, 2)).ok());
  ASSERT_TRUE(b.Receive(kLong).ok());
  const uint64_t spins = b.stats().receive_spins;
  absl::StatusOr<uint32_t> next;
  std::thread lone([&] { next = ReceiveStream(b); });
  ASSERT_TRUE(WaitUntilSpinning(b, spins));
  b.Close();
  lone.join();
  EXPECT_FALSE(next.ok());
  EXPECT_EQ(b.stats().segments_in, 0u);
  EXPECT_TRUE(testing::CheckPattern(*held, 7));
}

// Two senders on one port, each message checked: one sends 64 B messages
// only (the lone sender's path whenever the other is not writing), the
// other a mix that takes the mutex path (a tracked message, a new segment,
// a ring too small for a burst: marker, socket, RING_RESUME) while the
// first may be mid-append.
TEST(PortLonePathTest, SecondSenderStartingMidSendKeepsEachSendersOrder) {
  PortOptions small_ring = testing::SmallPortOptions(16, 4);
  small_ring.ring_capacity = 4096;
  auto ports = OpenLocalPorts(small_ring);
  ASSERT_TRUE(ports.ok()) << ports.status();
  Port& a = *ports->a;
  constexpr int kRounds = 40, kEach = 100;
  std::atomic<int> bad{0};
  std::thread receiver([&] {
    std::vector<int> next(2, 0);
    for (int n = 0; n < 2 * kRounds * kEach; ++n) {
      auto m = ports->b->Receive(kLong);
      if (!m.ok() || m->stream() > 1) {
        bad++;
        return;
      }
      const int t = m->stream();
      if (!testing::CheckPattern(*m, t * 1000000 + next[t]++)) bad++;
    }
  });
  int sent[2] = {0, 0};
  auto send = [&](int t, size_t size, bool tracked) {
    auto b = a.Allocate(size, kLong);
    if (!b.ok()) return false;
    testing::FillPattern(b->data(), b->size(), t * 1000000 + sent[t]++);
    if (!tracked) return a.Send(t, *std::move(b)).ok();
    return a.SendTracked(t, *std::move(b)).ok();
  };
  for (int round = 0; round < kRounds; ++round) {
    std::thread lone([&] {
      for (int i = 0; i < kEach; ++i) {
        if (!send(0, 64, false)) bad++;
      }
    });
    // Starts while the first is sending (no order between the two).
    std::thread other([&] {
      for (int i = 0; i < kEach; ++i) {
        if (!send(1, i % 3 == 0 ? 64 : 4096 * (1 + i % 3), i % 10 == 0)) {
          bad++;
        }
      }
    });
    lone.join();
    other.join();
  }
  receiver.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(a.stats().ring_fallbacks, 0u);  // the socket took over, and
  EXPECT_GT(a.stats().sent_via_ring, 0u);   // the ring came back
}

// Close (this end, or the peer) while a sender sends on the lone path: the
// sender fails, the receiver gets what was sent in order, then the error.
TEST(PortLonePathTest, CloseDuringLoneSendsEndsThemInOrder) {
  for (int round = 0; round < 20; ++round) {
    auto ports = OpenLocalPorts();
    ASSERT_TRUE(ports.ok()) << ports.status();
    Port& a = *ports->a;
    Port& b = *ports->b;
    std::atomic<int> sent{0};
    absl::Status failed;
    std::thread sender([&] {
      for (int i = 0;; ++i) {
        auto buffer = a.Allocate(64, kLong);
        if (!buffer.ok()) {
          failed = buffer.status();
          return;
        }
        testing::FillPattern(buffer->data(), buffer->size(), i);
        if (absl::Status s = a.Send(0, *std::move(buffer)); !s.ok()) {
          failed = s;
          return;
        }
        sent.store(i + 1, std::memory_order_release);
      }
    });
    int received = 0;
    for (; received < 100; ++received) {
      auto m = b.Receive(kLong);
      ASSERT_TRUE(m.ok()) << m.status();
      ASSERT_TRUE(testing::CheckPattern(*m, received));
    }
    if (round % 2 == 0) {
      a.Close();  // this end of the sender
    } else {
      b.Close();  // the peer: the sender learns it from the ring
    }
    sender.join();
    EXPECT_FALSE(failed.ok());
    // Whatever came before the close comes in order.
    if (round % 2 == 0) {
      while (true) {
        auto m = b.Receive(kLong);
        if (!m.ok()) {
          EXPECT_EQ(m.status().code(), absl::StatusCode::kUnavailable);
          break;
        }
        EXPECT_TRUE(testing::CheckPattern(*m, received++));
      }
      EXPECT_LE(received, sent.load());
    }
  }
}

}  // namespace
}  // namespace shmport
