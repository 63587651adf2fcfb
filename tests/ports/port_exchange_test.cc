// Acceptance (issue 3, item 1): two processes exchange 100,000 messages of
// random sizes from 0 B to 4 MiB; every byte arrives intact and in order;
// afterwards both sides have 0 chunks in use and no leaked fd.
#include <cmath>
#include <random>
#include <thread>

#include "gtest/gtest.h"
#include "shmport/port.h"
#include "tests/ports/port_harness.h"
#include "tests/util/process_census.h"

namespace shmport {
namespace {

using testing::CheckPattern;
using testing::FillPattern;

constexpr int kMessagesEachWay = 50000;
constexpr absl::Duration kBound = absl::Seconds(30);

// Log-uniform over [0, 4 MiB]: every scale from bytes to megabytes is
// exercised, and the total stays a few GiB.
size_t RandomSize(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> exponent(0.0, 22.0);
  return static_cast<size_t>(std::exp2(exponent(rng))) - 1;
}

// Sends kMessagesEachWay messages; half are filled in place in shared
// memory (zero-copy), half go through SendCopy. Returns 0 on success.
int SendAll(Port& port, uint64_t seed_base) {
  std::mt19937_64 rng(seed_base);
  std::vector<uint8_t> scratch;
  for (int i = 0; i < kMessagesEachWay; ++i) {
    const size_t size = RandomSize(rng);
    const uint64_t seed = seed_base + i;
    if (i % 2 == 0) {
      auto b = port.Allocate(size, kBound);
      if (!b.ok()) return 1;
      FillPattern(b->data(), size, seed);
      if (!port.Send(i, *std::move(b)).ok()) return 2;
    } else {
      scratch.resize(size);
      FillPattern(scratch.data(), size, seed);
      if (!port.SendCopy(i, scratch).ok()) return 3;
    }
  }
  return 0;
}

// Receives and verifies; holds a few messages now and then so that the
// sender meets backpressure too.
int ReceiveAll(Port& port, uint64_t seed_base) {
  std::mt19937_64 sizes(seed_base);
  std::mt19937 hold(seed_base);
  std::vector<Message> held;
  for (int i = 0; i < kMessagesEachWay; ++i) {
    auto m = port.Receive(kBound);
    if (!m.ok()) return 10;
    if (m->stream() != static_cast<uint32_t>(i)) return 11;  // order
    if (m->size() != RandomSize(sizes)) return 12;
    if (!CheckPattern(*m, seed_base + i)) return 13;  // every byte
    if (hold() % 64 == 0) held.push_back(*std::move(m));
    if (held.size() > 6) held.clear();
  }
  return 0;
}

TEST(PortExchangeTest, HundredThousandRandomMessagesArriveIntactAndInOrder) {
  testing::ProcessCensus census;
  PortOptions options;
  options.max_segments = 4;  // 64 MiB each way: backpressure happens
  {
    auto peer = testing::ForkPeer(
        [&](Port& port) -> int {
          int send_rc = 0;
          std::thread sender([&] { send_rc = SendAll(port, 1000000); });
          const int recv_rc = ReceiveAll(port, 0);
          sender.join();
          if (send_rc != 0) return send_rc;
          if (recv_rc != 0) return recv_rc;
          // Wait for the parent's verdict: it has dropped all our messages.
          auto done = port.Receive(kBound);
          if (!done.ok() || done->stream() != 0xffffffff) return 20;
          if (port.stats().chunks_in_use != 0) return 21;
          return 0;
        },
        options, options);
    ASSERT_TRUE(peer.ok()) << peer.status();
    Port& port = *peer->port;
    int send_rc = 0;
    std::thread sender([&] { send_rc = SendAll(port, 0); });
    EXPECT_EQ(ReceiveAll(port, 1000000), 0);
    sender.join();
    EXPECT_EQ(send_rc, 0);
    ASSERT_TRUE(port.SendCopy(0xffffffff, {}).ok());
    EXPECT_EQ(peer->child.Wait(absl::Seconds(120)), "exit 0");
    // The child verified and freed everything we sent before exiting.
    const PortStats stats = port.stats();
    EXPECT_EQ(stats.chunks_in_use, 0u);
    EXPECT_EQ(stats.messages_received, uint64_t{kMessagesEachWay});
    EXPECT_EQ(stats.messages_sent, uint64_t{kMessagesEachWay} + 1);
  }
  EXPECT_EQ(census.LeakedFds(), 0) << census.Describe();
  EXPECT_EQ(census.LeakedMappings(), 0);
}

}  // namespace
}  // namespace shmport
