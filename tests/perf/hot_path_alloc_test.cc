// The steady-state path of a ring-carried message allocates nothing and,
// inline, takes no mutex (issue 16, decisions D29 and D33): a ping-pong
// between this process and a forked peer over a real socketpair and ring,
// each side counting its own thread's calls to the global operator new and
// to pthread_mutex_lock (both replaced in this binary) over the measured
// round trips after a warm-up.
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "common/mutex.h"
#include "gtest/gtest.h"
#include "shmport/port.h"
#include "tests/perf/allocation_counter.h"
#include "tests/perf/lock_counter.h"
#include "tests/ports/port_harness.h"

namespace shmport {
namespace {

using testing::AllocationCounter;
using testing::LockCounter;

constexpr absl::Duration kBound = absl::Seconds(20);
constexpr int kWarmup = 1000;
constexpr int kRoundTrips = 2000;

// Sends `value` in a `bytes`-byte message; false on any failure (no
// assertion: gtest allocates).
bool SendValue(Port& port, size_t bytes, uint64_t value) {
  auto buffer = port.Allocate(bytes, kBound);
  if (!buffer.ok()) return false;
  std::memcpy(buffer->data(), &value, sizeof(value));
  return port.Send(1, *std::move(buffer)).ok();
}

// The next message's value; ~0 on failure.
uint64_t ReceiveValue(Port& port) {
  auto message = port.Receive(kBound);
  if (!message.ok() || message->size() < sizeof(uint64_t)) return ~0ull;
  uint64_t value;
  std::memcpy(&value, message->data().data(), sizeof(value));
  return value;
}

// What one side counted over the measured round trips.
struct Counts {
  uint64_t allocations = ~0ull;
  uint64_t locks = ~0ull;
};

// The echo side: `n` round trips as they come, the last `counted` of them
// counted; then, asked once more, its counts go back (and its exit, with
// its BYE, comes after the other side stopped counting).
int Echo(Port& port, size_t bytes, int n, int counted) {
  for (int i = 0; i < n - counted; ++i) {
    if (!SendValue(port, bytes, ReceiveValue(port))) return 1;
  }
  Counts counts;
  {
    AllocationCounter allocations;
    LockCounter locks;
    for (int i = 0; i < counted; ++i) {
      if (!SendValue(port, bytes, ReceiveValue(port))) return 2;
    }
    counts = {allocations.count(), locks.count()};
  }
  if (ReceiveValue(port) == ~0ull) return 3;
  if (!SendValue(port, bytes, counts.allocations)) return 4;
  return SendValue(port, bytes, counts.locks) ? 0 : 5;
}

struct PingPongResult {
  Counts pinger;
  Counts ponger;
  bool echoed = false;  // every reply carried its request's value
};

PingPongResult PingPong(Port& port, size_t bytes) {
  PingPongResult run;
  run.echoed = true;
  for (int i = 0; i < kWarmup; ++i) {
    const uint64_t v = i;
    run.echoed &= SendValue(port, bytes, v) && ReceiveValue(port) == v;
  }
  {
    AllocationCounter allocations;
    LockCounter locks;
    for (int i = 0; i < kRoundTrips; ++i) {
      const uint64_t v = kWarmup + i;
      run.echoed &= SendValue(port, bytes, v) && ReceiveValue(port) == v;
    }
    run.pinger = {allocations.count(), locks.count()};
  }
  if (!SendValue(port, bytes, 0)) return run;
  run.ponger.allocations = ReceiveValue(port);
  run.ponger.locks = ReceiveValue(port);
  return run;
}

TEST(HotPathAllocTest, TheCounterSeesThisThreadsAllocations) {
  AllocationCounter counter;
  auto p = std::make_unique<int>(1);
  std::vector<int> v(3);
  EXPECT_EQ(counter.count(), 2u);
}

TEST(HotPathAllocTest, TheLockCounterSeesThisThreadsLocks) {
  Mutex mu;
  std::mutex standard;
  LockCounter counter;
  { MutexLock lock(&mu); }
  if (standard.try_lock()) standard.unlock();
  EXPECT_EQ(counter.count(), 2u);
}

// A ping-pong of `bytes`-byte messages with a forked echo peer: checks that
// it allocates nothing and takes at most `max_locks` mutexes per round trip
// on each side.
void ExpectPingPong(size_t bytes, uint64_t max_locks) {
  auto peer = testing::ForkPeer([bytes](Port& port) {
    return Echo(port, bytes, kWarmup + kRoundTrips, kRoundTrips);
  });
  ASSERT_TRUE(peer.ok()) << peer.status();
  const PingPongResult run = PingPong(*peer->port, bytes);
  EXPECT_TRUE(run.echoed);
  EXPECT_EQ(run.pinger.allocations, 0u)
      << "in " << kRoundTrips << " round trips, this side";
  EXPECT_EQ(run.ponger.allocations, 0u)
      << "in " << kRoundTrips << " round trips, the echo side";
  EXPECT_LE(run.pinger.locks, max_locks * kRoundTrips)
      << "mutex locks in " << kRoundTrips << " round trips, this side";
  EXPECT_LE(run.ponger.locks, max_locks * kRoundTrips)
      << "mutex locks in " << kRoundTrips << " round trips, the echo side";
  const PortStats s = peer->port->stats();
  EXPECT_GE(s.sent_via_ring, uint64_t{kWarmup + kRoundTrips});
  auto code = peer->child.WaitForExitCode(kBound);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
}

// Inline: the payload travels in the ring entry itself. No lock: the
// reader role and the ring writer are tokens (D33).
TEST(HotPathAllocTest, RingPingPongOf64BytesAllocatesNothingAndLocksNothing) {
  ExpectPingPong(64, 0);
}

// Zero-copy: a descriptor in the ring names chunks of a shared segment,
// checked against the peer's segment table, which the reader owns.
TEST(HotPathAllocTest,
     RingPingPongOf4KiBInSharedMemoryAllocatesNothingAndLocksNothing) {
  ExpectPingPong(4096, 0);
}

}  // namespace
}  // namespace shmport
