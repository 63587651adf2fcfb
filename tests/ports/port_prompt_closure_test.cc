// Acceptance (issue 13, item 5): after the peer's BYE or EOF, a sender that
// never receives learns of it at its next call, not when shared memory
// runs out: Allocate, Send and SendCopy return UNAVAILABLE and closed() is
// true. What the peer sent before its BYE can still be received.
#include <signal.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "shmport/port.h"
#include "tests/ports/port_harness.h"

namespace shmport {
namespace {

constexpr absl::Duration kBound = absl::Seconds(10);  // failure timeout only

// Takes the parent's first message (and with it the parent's ring), sends
// `replies` messages, then closes with a BYE.
std::function<int(Port&)> ReceiveReplyAndClose(int replies) {
  return [replies](Port& port) {
    if (!port.Receive(kBound).ok()) return 1;
    for (int i = 0; i < replies; ++i) {
      const std::string text = "reply " + std::to_string(i);
      if (!port.SendCopy(0, {reinterpret_cast<const uint8_t*>(text.data()),
                             text.size()})
               .ok()) {
        return 2;
      }
    }
    port.Close();
    return 0;
  };
}

absl::Status SendText(Port& port, absl::string_view text) {
  return port.SendCopy(
      0, {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
}

TEST(PortPromptClosureTest, NextAllocateAndSendAfterTheRingsByeFail) {
  auto peer = testing::ForkPeer(ReceiveReplyAndClose(0));
  ASSERT_TRUE(peer.ok()) << peer.status();
  Port& port = *peer->port;
  auto held = port.Allocate(16 * 1024, kBound);  // before the BYE
  ASSERT_TRUE(held.ok()) << held.status();
  ASSERT_TRUE(SendText(port, "go").ok());
  ASSERT_EQ(peer->child.Wait(kBound), "exit 0");
  // This end has read nothing since: only the ring's word can tell it.
  EXPECT_TRUE(port.closed());
  auto after = port.Allocate(64 * 1024, kBound);
  EXPECT_EQ(after.status().code(), absl::StatusCode::kUnavailable)
      << after.status();
  EXPECT_EQ(port.Send(0, *std::move(held)).code(),
            absl::StatusCode::kUnavailable);
  const absl::Status copy = SendText(port, "more");
  EXPECT_EQ(copy.code(), absl::StatusCode::kUnavailable) << copy;
  EXPECT_EQ(port.closed_reason().message(), "the peer closed the port");
}

TEST(PortPromptClosureTest, WhatThePeerSentBeforeItsByeIsStillReceived) {
  auto peer = testing::ForkPeer(ReceiveReplyAndClose(3));
  ASSERT_TRUE(peer.ok()) << peer.status();
  Port& port = *peer->port;
  ASSERT_TRUE(SendText(port, "go").ok());
  ASSERT_EQ(peer->child.Wait(kBound), "exit 0");
  EXPECT_EQ(SendText(port, "late").code(), absl::StatusCode::kUnavailable);
  for (int i = 0; i < 3; ++i) {
    auto m = port.Receive(kBound);
    ASSERT_TRUE(m.ok()) << "reply " << i << ": " << m.status();
  }
  EXPECT_EQ(port.Receive(kBound).status().code(),
            absl::StatusCode::kUnavailable);
}

// Without a ring (or before the peer read this end's ring) only the socket
// tells: its EOF is probed every 1,024 calls, so at most 1,025 calls
// succeed (each Allocate releases its chunk at once, so memory never runs
// out: without the probe every call would succeed).
void ExpectUnavailableWithin1025Calls(Port& port) {
  int calls = 0;
  absl::Status last;
  while (calls < 5000) {
    ++calls;
    auto b = port.Allocate(1, kBound);  // released at once: never runs out
    if (!b.ok()) {
      last = b.status();
      break;
    }
  }
  EXPECT_LE(calls, 1025);
  EXPECT_EQ(last.code(), absl::StatusCode::kUnavailable) << last;
  EXPECT_TRUE(port.closed());
}

TEST(PortPromptClosureTest, ByeWithoutARingIsSeenWithinAProbe) {
  PortOptions no_ring = testing::SmallPortOptions(4, 2);
  no_ring.ring_capacity = 0;
  no_ring.inline_threshold = 0;
  auto peer = testing::ForkPeer(ReceiveReplyAndClose(0), no_ring, no_ring);
  ASSERT_TRUE(peer.ok()) << peer.status();
  ASSERT_TRUE(SendText(*peer->port, "go").ok());
  ASSERT_EQ(peer->child.Wait(kBound), "exit 0");
  ExpectUnavailableWithin1025Calls(*peer->port);
}

TEST(PortPromptClosureTest, KilledPeerIsSeenWithinAProbe) {
  PortOptions small = testing::SmallPortOptions(4, 2);
  small.inline_threshold = 0;
  auto peer = testing::ForkPeer(
      [](Port& port) {
        (void)port.Receive(kBound);
        ::pause();
        return 0;
      },
      small, small);
  ASSERT_TRUE(peer.ok()) << peer.status();
  ASSERT_TRUE(SendText(*peer->port, "go").ok());
  peer->child.Kill(SIGKILL);
  ASSERT_EQ(peer->child.Wait(kBound), "signal 9");
  ExpectUnavailableWithin1025Calls(*peer->port);
}

}  // namespace
}  // namespace shmport
