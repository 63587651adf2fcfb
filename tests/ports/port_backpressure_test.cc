// Acceptance (issue 3, item 3): backpressure. The receiver holds messages
// until the sender's pool is full; the sender gets RESOURCE_EXHAUSTED (non-
// blocking) or DEADLINE_EXCEEDED (blocking, timeout passed) and loses
// nothing; when the receiver drops one message the blocked sender resumes.
// The whole cycle runs 1,000 times against a real second process.
#include <deque>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shmport/port.h"
#include "tests/ports/port_harness.h"

namespace shmport {
namespace {

using testing::CheckPattern;
using testing::FillPattern;

constexpr int kCycles = 1000;
constexpr int kPoolChunks = 4;  // one segment of 4 x 4 KiB
constexpr absl::Duration kBound = absl::Seconds(20);

// Commands from the sender (parent) to the receiver (child).
constexpr char kDropOne = 'd';
constexpr char kDropAll = 'a';

TEST(PortBackpressureTest, SenderWaitsTimesOutAndResumesThousandTimes) {
  testing::Signal command;
  const PortOptions options = testing::SmallPortOptions(kPoolChunks, 1);
  auto peer = testing::ForkPeer(
      [&](Port& port) -> int {
        command.KeepReadEnd();
        uint64_t next_seed = 0;
        std::deque<Message> held;
        auto receive = [&]() -> bool {
          auto m = port.Receive(kBound);
          if (!m.ok() || !CheckPattern(*m, next_seed) ||
              m->stream() != next_seed) {
            return false;
          }
          ++next_seed;
          held.push_back(*std::move(m));
          return true;
        };
        for (int cycle = 0; cycle < kCycles; ++cycle) {
          for (int i = 0; i < kPoolChunks; ++i) {
            if (!receive()) return 1;
          }
          if (command.Wait(kBound) != kDropOne) return 2;
          held.pop_front();  // frees one chunk: the sender resumes
          if (!receive()) return 3;
          if (command.Wait(kBound) != kDropAll) return 4;
          held.clear();
        }
        return next_seed == kCycles * (kPoolChunks + 1) ? 0 : 5;
      },
      options, options);
  ASSERT_TRUE(peer.ok()) << peer.status();
  command.KeepWriteEnd();
  Port& port = *peer->port;
  uint64_t seed = 0;
  auto send_one = [&](absl::Duration timeout) -> absl::Status {
    auto b = port.Allocate(4096, timeout);
    if (!b.ok()) return b.status();
    FillPattern(b->data(), b->size(), seed);
    absl::Status s = port.Send(seed, *std::move(b));
    ++seed;
    return s;
  };
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    for (int i = 0; i < kPoolChunks; ++i) {
      // May wait for the previous cycle's drops.
      ASSERT_TRUE(send_one(kBound).ok()) << "cycle " << cycle;
    }
    // The receiver holds every chunk now.
    auto none = port.TryAllocate(4096);
    ASSERT_EQ(none.status().code(), absl::StatusCode::kResourceExhausted)
        << "cycle " << cycle;
    auto late = port.Allocate(4096, absl::Milliseconds(1));
    ASSERT_EQ(late.status().code(), absl::StatusCode::kDeadlineExceeded)
        << "cycle " << cycle;
    command.Notify(kDropOne);
    ASSERT_TRUE(send_one(kBound).ok()) << "cycle " << cycle;  // resumes
    command.Notify(kDropAll);
  }
  // The child verified every seed, in order: nothing was lost.
  EXPECT_EQ(peer->child.Wait(kBound), "exit 0");
  EXPECT_GE(port.stats().oosm_waits, uint64_t{kCycles});
}

}  // namespace
}  // namespace shmport
