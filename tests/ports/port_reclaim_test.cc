// Acceptance (issue 11, hole 11): shared memory is given back without
// traffic. A sender that goes quiet releases its idle segments within
// idle_segment_timeout + 1 s; a large run the receiver freed goes back to
// the kernel, and the receiver's resident memory (its /proc/self/smaps)
// drops.
#include <filesystem>
#include <iterator>
#include <vector>

#include "gtest/gtest.h"
#include "shmport/port.h"
#include "tests/ports/port_harness.h"
#include "tests/util/eventually.h"
#include "tests/util/process_census.h"

namespace shmport {
namespace {

constexpr absl::Duration kBound = absl::Seconds(10);
constexpr absl::Duration kIdle = absl::Milliseconds(300);

TEST(PortReclaimTest, AQuietSenderReleasesItsIdleSegmentsWithoutTraffic) {
  PortOptions o = testing::SmallPortOptions(2, 4);
  o.idle_segment_timeout = kIdle;
  auto ports = testing::OpenLocalPorts(o);
  ASSERT_TRUE(ports.ok()) << ports.status();
  {
    std::vector<Buffer> held;  // grows the pool to 3 segments
    for (int i = 0; i < 6; ++i) held.push_back(*ports->a->Allocate(4096));
    ASSERT_TRUE(ports->a->Send(1, std::move(held)).ok());
    auto m = ports->b->Receive(kBound);
    ASSERT_TRUE(m.ok()) << m.status();
  }
  ASSERT_EQ(ports->a->stats().segments_out, 3u);
  EXPECT_EQ(ports->a->stats().mapped_bytes_out, 3 * o.geometry.file_size());
  // From here on nobody sends.
  const absl::Time quiet = absl::Now();
  ASSERT_TRUE(
      testing::Eventually([&] { return ports->a->stats().segments_out == 1; },
                          kIdle + absl::Seconds(1)));
  EXPECT_LE(absl::Now() - quiet, kIdle + absl::Seconds(1));
  EXPECT_EQ(ports->a->stats().mapped_bytes_out, o.geometry.file_size());
  // The receiver unmaps them when it next reads its socket.
  ASSERT_TRUE(testing::Eventually(
      [&] {
        return ports->b->TryReceive().ok() &&
               ports->b->stats().segments_in == 1;
      },
      kBound));
}

TEST(PortReclaimTest, SegmentsStayWhileTheyAreUsed) {
  PortOptions o = testing::SmallPortOptions(2, 4);
  o.idle_segment_timeout = kIdle;
  auto ports = testing::OpenLocalPorts(o);
  ASSERT_TRUE(ports.ok()) << ports.status();
  std::vector<Buffer> held;  // 3 segments' chunks, never sent
  for (int i = 0; i < 6; ++i) held.push_back(*ports->a->Allocate(4096));
  ASSERT_EQ(ports->a->stats().segments_out, 3u);
  // A segment with a busy chunk is never released, however long it waits:
  // watch a quiet, fully free segment go first as the proof that the
  // reclaimer ran meanwhile.
  PortOptions other = o;
  auto witness = testing::OpenLocalPorts(other);
  ASSERT_TRUE(witness.ok());
  {
    std::vector<Buffer> grow;
    for (int i = 0; i < 4; ++i) grow.push_back(*witness->a->Allocate(4096));
  }
  ASSERT_EQ(witness->a->stats().segments_out, 2u);
  ASSERT_TRUE(
      testing::Eventually([&] { return witness->a->stats().segments_out == 1; },
                          kIdle + absl::Seconds(1)));
  EXPECT_EQ(ports->a->stats().segments_out, 3u);
  EXPECT_EQ(ports->a->stats().chunks_in_use, 6u);
}

// The receiver, in its own process: maps and reads a 64 MiB message, then
// frees it and waits for its resident memory to drop. Exit codes name the
// step that failed.
int ReceiveAndWatchResidentMemory(Port& port) {
  constexpr uint64_t k64MiB = 64ull << 20;
  auto m = port.Receive(kBound);
  if (!m.ok() || m->size() != k64MiB) return 1;
  if (!testing::CheckPattern(*m, 11)) return 2;  // reads every page
  const uint64_t before = testing::SegmentResidentBytes();
  if (before < k64MiB) return 3;
  m = absl::UnavailableError("dropped");  // frees the whole run
  const bool dropped = testing::Eventually(
      [&] { return testing::SegmentResidentBytes() < 4ull << 20; },
      kIdle + absl::Seconds(1));
  return dropped ? 0 : 4;
}

// One segment of `chunks` x 64 KiB, idle after kIdle.
PortOptions OneSegment(uint32_t chunks) {
  PortOptions o;
  o.geometry = {64 * 1024, chunks};
  o.max_segments = 1;
  o.idle_segment_timeout = kIdle;
  return o;
}

TEST(PortReclaimTest, AFreed64MiBRunLeavesTheReceiversResidentMemory) {
  const PortOptions sender = OneSegment(1024);  // 64 MiB
  auto peer = testing::ForkPeer(ReceiveAndWatchResidentMemory, sender);
  ASSERT_TRUE(peer.ok()) << peer.status();
  Port& port = *peer->port;
  auto b = port.Allocate(64ull << 20);
  ASSERT_TRUE(b.ok()) << b.status();
  testing::FillPattern(b->data(), b->size(), 11);
  ASSERT_TRUE(port.Send(1, *std::move(b)).ok());
  EXPECT_EQ(peer->child.Wait(kBound), "exit 0");
  // The owner's own view agrees: the segment stays mapped and its pages
  // leave the page cache (the kernel unmaps them from both processes
  // first, then frees them: hence a wait here too).
  EXPECT_EQ(port.stats().mapped_bytes_out, sender.geometry.file_size());
  EXPECT_TRUE(testing::Eventually(
      [&] { return port.stats().resident_bytes_out < 4ull << 20; }, kBound))
      << port.stats().resident_bytes_out;
}

TEST(PortReclaimTest, ReturnedMemoryIsReusedIntact) {
  const PortOptions o = OneSegment(64);  // 4 MiB
  auto ports = testing::OpenLocalPorts(o, o);
  ASSERT_TRUE(ports.ok()) << ports.status();
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    std::vector<uint8_t> bytes(o.geometry.data_size());
    testing::FillPattern(bytes.data(), bytes.size(), seed);
    ASSERT_TRUE(ports->a->SendCopy(1, bytes).ok());
    {
      auto m = ports->b->Receive(kBound);
      ASSERT_TRUE(m.ok()) << m.status();
      EXPECT_TRUE(testing::CheckPattern(*m, seed)) << "round " << seed;
    }
    // Freed: the run goes back to the kernel, and the next round's payload
    // lands in fresh pages.
    ASSERT_TRUE(testing::Eventually(
        [&] { return ports->a->stats().resident_bytes_out < 1u << 20; },
        kIdle + absl::Seconds(1)))
        << ports->a->stats().resident_bytes_out;
  }
  EXPECT_EQ(ports->b->stats().protocol_errors, 0u);
}

// Threads of this process (the entries of /proc/self/task).
long ThreadCount() {
  const std::filesystem::directory_iterator tasks("/proc/self/task");
  return std::distance(begin(tasks), end(tasks));
}

// The receiver, in a freshly forked (one-thread) process: receiving,
// inline sends and a few chunks of its first segment leave it
// single-threaded (nothing there the Reclaimer could give back); written
// chunks reaching reclaim_free_run_bytes start the reclaimer thread
// (decisions D19, D28). Exit codes name the step that failed.
int ReceiveThenAllocate(Port& port) {
  if (ThreadCount() != 1) return 1;
  for (int i = 0; i < 20; ++i) {
    auto m = port.Receive(kBound);
    if (!m.ok() || m->size() != (i % 2 == 0 ? 64u << 10 : 16u)) return 2;
  }
  const uint8_t small[16] = {};
  if (!port.SendCopy(1, small).ok()) return 3;  // inline: no segment
  if (ThreadCount() != 1) return 4;
  auto b = port.Allocate(64 << 10);  // 4 of 1,024 chunks
  if (!b.ok()) return 5;
  if (ThreadCount() != 1) return 6;
  if (!port.Send(1, *std::move(b)).ok()) return 7;
  auto run = port.Allocate(1 << 20);  // a whole free run's worth, written
  if (!run.ok()) return 8;
  if (ThreadCount() != 2) return 9;
  return 0;
}

TEST(PortReclaimTest, TheReclaimerStartsWithMemoryToGiveBack) {
  PortOptions o;
  o.idle_segment_timeout = kIdle;
  auto peer = testing::ForkPeer(ReceiveThenAllocate, o, o);
  ASSERT_TRUE(peer.ok()) << peer.status();
  Port& port = *peer->port;
  const std::vector<uint8_t> big(64 << 10, 7), small(16, 7);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(port.SendCopy(1, i % 2 == 0 ? big : small).ok());
  }
  for (int i = 0; i < 2; ++i) {
    auto m = port.Receive(kBound);
    ASSERT_TRUE(m.ok()) << m.status();
  }
  EXPECT_EQ(peer->child.Wait(kBound), "exit 0");
}

// A forked sender whose chunks stay far below reclaim_free_run_bytes: its
// second segment is one the Reclaimer may release, and starts it.
int GrowToASecondSegment(Port& port) {
  std::vector<Buffer> held;
  for (int i = 0; i < 2; ++i) held.push_back(*port.Allocate(4096));
  if (port.stats().segments_out != 1 || ThreadCount() != 1) return 1;
  held.push_back(*port.Allocate(4096));
  if (port.stats().segments_out != 2) return 2;
  return ThreadCount() == 2 ? 0 : 3;
}

TEST(PortReclaimTest, ASecondSegmentStartsTheReclaimer) {
  PortOptions o = testing::SmallPortOptions(2, 4);
  o.idle_segment_timeout = kIdle;
  auto peer = testing::ForkPeer(GrowToASecondSegment, o, o);
  ASSERT_TRUE(peer.ok()) << peer.status();
  EXPECT_EQ(peer->child.Wait(kBound), "exit 0");
}

}  // namespace
}  // namespace shmport
