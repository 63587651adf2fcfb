// Acceptance (issue 3, item 4): tracked sends race with cancels across two
// processes. Each request is processed exactly once or cancelled exactly
// once, never both, never neither; every tracking slot comes back.
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <random>
#include <thread>

#include "gtest/gtest.h"
#include "shmport/port.h"
#include "tests/ports/port_harness.h"

namespace shmport {
namespace {

constexpr uint32_t kRequests = 100000;
constexpr uint32_t kEnd = 0xffffffff;
constexpr absl::Duration kBound = absl::Seconds(30);

// The receiver: records which streams it processed, then sends the record
// back as one message (one byte per stream).
int Receiver(Port& port) {
  std::vector<uint8_t> processed(kRequests, 0);
  while (true) {
    auto m = port.Receive(kBound);
    if (!m.ok()) return 1;
    if (m->stream() == kEnd) break;
    if (m->stream() >= kRequests) return 2;
    if (processed[m->stream()]++ != 0) return 3;  // processed twice
    // The payload names its stream: a claim never lands on a reused slot.
    uint32_t named;
    if (m->size() < sizeof(named)) return 4;
    std::memcpy(&named, m->data().data(), sizeof(named));
    if (named != m->stream()) return 5;
  }
  if (!port.SendCopy(kEnd, processed).ok()) return 6;
  auto bye = port.Receive(kBound);  // wait until the parent has it
  return bye.ok() ? 0 : 7;
}

TEST(PortTrackingTest, EveryTrackedRequestIsProcessedOrCancelledExactlyOnce) {
  PortOptions options;
  options.max_segments = 2;
  auto peer = testing::ForkPeer(Receiver, options, options);
  ASSERT_TRUE(peer.ok()) << peer.status();
  Port& port = *peer->port;

  std::mutex mu;
  std::condition_variable cv;
  std::deque<Tracking> pending;  // guarded by mu
  bool sending_done = false;     // guarded by mu
  std::vector<uint8_t> cancelled(kRequests, 0);
  std::atomic<int> send_errors{0};

  // Cancels about half of the requests, some at once, some a little later.
  std::thread canceller([&] {
    std::mt19937 rng(99);
    while (true) {
      Tracking t;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return sending_done || !pending.empty(); });
        if (pending.empty()) return;
        // Sometimes let a few requests pile up so the receiver wins races.
        if (!sending_done && pending.size() < 4 && rng() % 3 == 0) continue;
        t = std::move(pending.front());
        pending.pop_front();
      }
      if (rng() % 2 == 0) {
        auto won = t.Cancel();
        if (!won.ok()) {
          send_errors++;
        } else if (*won) {
          cancelled[t.stream()] = 1;
        }
      }
    }
  });
  std::mt19937 rng(7);
  for (uint32_t i = 0; i < kRequests; ++i) {
    // Mix inline requests and shared-memory ones.
    const size_t size = rng() % 4 == 0 ? 20000 : 16;
    auto b = port.Allocate(size, kBound);
    if (!b.ok()) {
      ADD_FAILURE() << "Allocate " << i << ": " << b.status();
      send_errors++;
      break;
    }
    std::memcpy(b->data(), &i, sizeof(i));
    auto t = port.SendTracked(i, *std::move(b));
    if (!t.ok()) {
      ADD_FAILURE() << "SendTracked " << i << ": " << t.status();
      send_errors++;
      break;
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      pending.push_back(*std::move(t));
    }
    cv.notify_one();
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    sending_done = true;
  }
  cv.notify_one();
  canceller.join();
  ASSERT_EQ(send_errors.load(), 0);
  ASSERT_TRUE(port.SendCopy(kEnd, {}).ok());

  auto record = port.Receive(kBound);
  ASSERT_TRUE(record.ok()) << record.status();
  ASSERT_EQ(record->size(), kRequests);
  const std::string processed = record->ToString();
  uint32_t both = 0, neither = 0, won = 0;
  for (uint32_t i = 0; i < kRequests; ++i) {
    if (processed[i] && cancelled[i]) ++both;
    if (!processed[i] && !cancelled[i]) ++neither;
    won += cancelled[i];
  }
  EXPECT_EQ(both, 0u);
  EXPECT_EQ(neither, 0u);
  // Both sides of the race really happened.
  const PortStats stats = port.stats();
  EXPECT_GT(won, 0u);
  EXPECT_GT(stats.cancels_lost, 0u);
  EXPECT_EQ(stats.cancels_won, won);
  EXPECT_EQ(stats.tracking_in_flight, 0u);  // every slot came back
  EXPECT_EQ(stats.chunks_in_use, 0u);
  ASSERT_TRUE(port.SendCopy(kEnd, {}).ok());
  EXPECT_EQ(peer->child.Wait(kBound), "exit 0");
}

}  // namespace
}  // namespace shmport
