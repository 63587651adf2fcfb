// Fault injection (issue 7): SIGSTOP and SIGCONT of a port's receiver and of
// its sender, at random points of a stream. While the peer is stopped the
// other side's bounded calls end with DEADLINE_EXCEEDED: they never hang
// and never fail otherwise. After SIGCONT the stream resumes and nothing is
// lost: the receiver gets every message the sender counted as sent, once,
// in order, byte for byte. (SIGKILL of either end at random points is
// //tests/ports:port_peer_death_test; with a daemon, daemon_fault_test.)
#include <signal.h>
#include <sys/wait.h>

#include <random>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "shmport/port.h"
#include "tests/fault/child_check.h"
#include "tests/ports/port_harness.h"
#include "tests/util/process_census.h"

namespace shmport::testing {
namespace {

constexpr int kTrials = 6;
// Enough that a stop early in the stream always lands mid-stream: the
// sender cannot run more than its pool, ring and socket buffer ahead.
constexpr uint32_t kMessages = 2000;
constexpr uint32_t kStopWithin = 200;
constexpr uint32_t kEndMarker = kMessages;  // stream id of the last message
constexpr absl::Duration kShortBound = absl::Milliseconds(100);
constexpr absl::Duration kLongBound = absl::Seconds(30);

uint64_t Seed(int trial, uint32_t seq) {
  return (static_cast<uint64_t>(trial) << 32) | seq;
}

// Half inline, half shared memory of up to three 4 KiB chunks.
size_t PayloadSize(uint32_t seq) {
  std::mt19937 rng(seq);
  return rng() % 2 == 0 ? 16 + rng() % 1000 : 1024 + rng() % (11 * 1024);
}

// Small pools and rings, so that a stopped receiver fills them quickly.
PortOptions StreamOptions(absl::Duration send_timeout) {
  PortOptions o = SmallPortOptions(16, 2);
  o.ring_capacity = 16 * 1024;
  o.send_timeout = send_timeout;
  return o;
}

absl::Status SendOne(Port& port, int trial, uint32_t seq,
                     absl::Duration allocate_bound) {
  const size_t size = PayloadSize(seq);
  absl::StatusOr<Buffer> b = port.Allocate(size, allocate_bound);
  if (!b.ok()) return b.status();
  FillPattern(b->data(), size, Seed(trial, seq));
  return port.Send(seq, *std::move(b));
}

// Sends seq until it is accepted, retrying a call that hit its bound (the
// message was then not sent), for at most kLongBound.
absl::Status SendPatiently(Port& port, int trial, uint32_t seq) {
  const absl::Time deadline = absl::Now() + kLongBound;
  while (true) {
    absl::Status s = SendOne(port, trial, seq, kLongBound);
    if (!absl::IsDeadlineExceeded(s) || absl::Now() > deadline) return s;
  }
}

// The check every receiver makes: message `seq` is next, intact.
std::string Mismatch(const Message& m, int trial, uint32_t seq) {
  if (m.stream() != seq) {
    return absl::StrCat("expected message ", seq, ", got ", m.stream());
  }
  if (m.size() != PayloadSize(seq)) {
    return absl::StrCat("message ", seq, " has ", m.size(), " bytes, sent ",
                        PayloadSize(seq));
  }
  if (!CheckPattern(m, Seed(trial, seq))) {
    return absl::StrCat("message ", seq, " is corrupted");
  }
  return "";
}

// The stopped side as a child: receives every message and the end marker.
int ReceiveEverything(Port& port, int trial) {
  for (uint32_t seq = 0; seq < kMessages; ++seq) {
    absl::StatusOr<Message> m = port.Receive(kLongBound);
    CHILD_CHECK(m.ok(), m.status().ToString());
    const std::string wrong = Mismatch(*m, trial, seq);
    CHILD_CHECK(wrong.empty(), wrong);
  }
  absl::StatusOr<Message> end = port.Receive(kLongBound);
  CHILD_CHECK(end.ok(), end.status().ToString());
  CHILD_CHECK(end->stream() == kEndMarker,
              absl::StrCat("after the last message came ", end->stream()));
  return 0;
}

// Waits until the child has really stopped (or is gone).
void AwaitStopped(pid_t pid) {
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, WUNTRACED), pid);
  ASSERT_TRUE(WIFSTOPPED(status)) << "child ended instead: " << status;
}

TEST(PortStopTest, StoppedReceiverMakesSendsHitTheirBoundThenLosesNothing) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < kTrials; ++trial) {
    SCOPED_TRACE(absl::StrCat("trial ", trial));
    ProcessCensus census;
    {
      auto peer = ForkPeer(
          [trial](Port& port) { return ReceiveEverything(port, trial); },
          StreamOptions(kShortBound), StreamOptions(kLongBound));
      ASSERT_TRUE(peer.ok()) << peer.status();
      Port& port = *peer->port;
      const uint32_t stop_at = rng() % kStopWithin;
      uint32_t seq = 0;
      for (; seq < stop_at; ++seq) {
        ASSERT_TRUE(SendPatiently(port, trial, seq).ok());
      }
      peer->child.Kill(SIGSTOP);
      AwaitStopped(peer->child.pid());
      // Keep sending with short bounds: the pool, the ring and the socket
      // fill up, and then a call hits its bound. Nothing else may happen.
      int bounded = 0;
      for (int attempt = 0; attempt < 100000 && bounded < 3; ++attempt) {
        absl::Status s = SendOne(port, trial, seq, kShortBound);
        if (s.ok()) {
          ASSERT_LT(++seq, kMessages) << "the stopped receiver took it all";
        } else {
          ASSERT_TRUE(absl::IsDeadlineExceeded(s)) << s;
          ++bounded;
        }
      }
      ASSERT_EQ(bounded, 3) << "no call hit its bound while the peer stopped";
      EXPECT_FALSE(port.closed());
      peer->child.Kill(SIGCONT);
      for (; seq < kMessages; ++seq) {
        ASSERT_TRUE(SendPatiently(port, trial, seq).ok()) << "message " << seq;
      }
      ASSERT_TRUE(port.SendCopy(kEndMarker, std::vector<uint8_t>{1}).ok());
      EXPECT_EQ(peer->child.Wait(kLongBound), "exit 0");
      EXPECT_EQ(port.stats().protocol_errors, 0u);
    }
    EXPECT_EQ(census.LeakedFds(), 0) << census.Describe();
    EXPECT_EQ(census.LeakedMappings(), 0);
  }
}

TEST(PortStopTest, StoppedSenderMakesReceivesHitTheirBoundThenLosesNothing) {
  std::mt19937 rng(8);
  for (int trial = 0; trial < kTrials; ++trial) {
    SCOPED_TRACE(absl::StrCat("trial ", trial));
    ProcessCensus census;
    {
      Signal done;
      auto peer = ForkPeer(
          [trial, &done](Port& port) -> int {
            done.KeepReadEnd();
            for (uint32_t seq = 0; seq < kMessages; ++seq) {
              const absl::Status s = SendPatiently(port, trial, seq);
              CHILD_CHECK(s.ok(), s.ToString());
            }
            CHILD_CHECK(port.SendCopy(kEndMarker, std::vector<uint8_t>{1}).ok(),
                        "end marker");
            // Keep the port open until the parent has checked everything.
            CHILD_CHECK(done.Wait(kLongBound).has_value(), "no done signal");
            return 0;
          },
          StreamOptions(kLongBound), StreamOptions(kLongBound));
      ASSERT_TRUE(peer.ok()) << peer.status();
      done.KeepWriteEnd();
      Port& port = *peer->port;
      const uint32_t stop_at = rng() % kStopWithin;
      uint32_t seq = 0;
      for (; seq < stop_at; ++seq) {
        absl::StatusOr<Message> m = port.Receive(kLongBound);
        ASSERT_TRUE(m.ok()) << m.status();
        ASSERT_EQ(Mismatch(*m, trial, seq), "");
      }
      peer->child.Kill(SIGSTOP);
      AwaitStopped(peer->child.pid());
      // What was in flight still arrives, intact; then Receive hits its
      // bound.
      bool bounded = false;
      while (!bounded) {
        absl::StatusOr<Message> m = port.Receive(kShortBound);
        if (!m.ok()) {
          ASSERT_TRUE(absl::IsDeadlineExceeded(m.status())) << m.status();
          bounded = true;
          break;
        }
        ASSERT_LT(seq, kMessages) << "the stopped sender sent it all";
        ASSERT_EQ(Mismatch(*m, trial, seq), "");
        ++seq;
      }
      EXPECT_FALSE(port.closed());
      peer->child.Kill(SIGCONT);
      for (; seq < kMessages; ++seq) {
        absl::StatusOr<Message> m = port.Receive(kLongBound);
        ASSERT_TRUE(m.ok()) << "message " << seq << ": " << m.status();
        ASSERT_EQ(Mismatch(*m, trial, seq), "");
      }
      absl::StatusOr<Message> end = port.Receive(kLongBound);
      ASSERT_TRUE(end.ok()) << end.status();
      EXPECT_EQ(end->stream(), kEndMarker);
      done.Notify();
      EXPECT_EQ(peer->child.Wait(kLongBound), "exit 0");
      EXPECT_EQ(port.stats().protocol_errors, 0u);
    }
    EXPECT_EQ(census.LeakedFds(), 0) << census.Describe();
    EXPECT_EQ(census.LeakedMappings(), 0);
  }
}

}  // namespace
}  // namespace shmport::testing
