// Fault injection (issue 7): memfd_create, ftruncate and mmap failing on
// demand (common/syscalls.h) where shared memory is acquired: a sender's
// new segment, a port's ring at Open, and a receiver mapping what its peer
// announced. Failures are injected in one process only (the other end is a
// forked child), so they hit exactly the side under test.
//
//  * Sender: Allocate fails with RESOURCE_EXHAUSTED naming the call, the
//    port stays open, nothing leaks, and the next Allocate succeeds.
//  * Port::Open: fails with RESOURCE_EXHAUSTED and closes its socket.
//  * Receiver: closes the port, UNAVAILABLE, with the reason "this
//    process could not take the peer's NEW_SEGMENT: segment 0: mmap ...
//    Cannot allocate memory"; not counted in protocol_errors (the peer did
//    nothing wrong). The peer sees UNAVAILABLE; neither side leaks.
#include <errno.h>
#include <unistd.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/syscalls.h"
#include "gtest/gtest.h"
#include "shmport/port.h"
#include "tests/fault/child_check.h"
#include "tests/ports/port_harness.h"
#include "tests/util/process_census.h"

namespace shmport::testing {
namespace {

constexpr absl::Duration kBound = absl::Seconds(20);
constexpr uint32_t kEnd = 0xffffffff;  // stream id of the end marker
// Exit codes of the checking receiver besides 0 and CHILD_CHECK's.
constexpr int kOpenFailed = 100;
constexpr int kPortClosed = 101;

std::string Text(const absl::Status& s) { return std::string(s.message()); }

// A forked child that opens its end of the port and checks every message
// (pattern seeded by its stream id) until the end marker.
struct CheckingReceiver {
  ChildProcess child;
  UniqueFd socket;  // this process's end
};

CheckingReceiver ForkCheckingReceiver() {
  SocketPair sp = MakeSocketPair();
  const pid_t parent = ::getpid();
  ChildProcess child = ChildProcess::Fork([&]() -> int {
    sp.a.Reset();
    auto port =
        Port::Open(std::move(sp.b), {.pid = parent}, SmallPortOptions(4, 4));
    if (!port.ok()) return kOpenFailed;
    while (true) {
      auto m = (*port)->Receive(kBound);
      if (absl::IsUnavailable(m.status())) return kPortClosed;
      CHILD_CHECK(m.ok(), m.status().ToString());
      if (m->stream() == kEnd) return 0;
      CHILD_CHECK(CheckPattern(*m, m->stream()),
                  absl::StrCat("message ", m->stream(), " corrupted"));
    }
  });
  sp.b.Reset();
  return {std::move(child), std::move(sp.a)};
}

absl::Status SendPattern(Port& port, uint32_t stream, size_t size) {
  auto b = port.Allocate(size, kBound);
  if (!b.ok()) return b.status();
  FillPattern(b->data(), size, stream);
  return port.Send(stream, *std::move(b));
}

struct Injection {
  sys::Call call;
  int error;
  const char* what;  // in the error message
};

std::string Name(const ::testing::TestParamInfo<Injection>& info) {
  const char* call[] = {"MemfdCreate", "Ftruncate", "Mmap"};
  return absl::StrCat(call[static_cast<int>(info.param.call)], "Errno",
                      info.param.error);
}

class SegmentCreationFailureTest : public ::testing::TestWithParam<Injection> {
};

TEST_P(SegmentCreationFailureTest, AllocateIsResourceExhaustedThenRetryWorks) {
  const Injection& in = GetParam();
  CheckingReceiver receiver = ForkCheckingReceiver();
  {
    auto opened =
        Port::Open(std::move(receiver.socket), {.pid = receiver.child.pid()},
                   SmallPortOptions(4, 4));
    ASSERT_TRUE(opened.ok()) << opened.status();
    Port& port = **opened;
    ASSERT_TRUE(SendPattern(port, 1, 100).ok());  // inline
    // All of segment 0, held unsent: the next buffer needs a new segment.
    auto held = port.Allocate(4 * 4096, kBound);
    ASSERT_TRUE(held.ok()) << held.status();
    ProcessCensus census;
    {
      sys::ScopedFailure failure(in.call, in.error);
      auto b = port.Allocate(4096, kBound);
      ASSERT_EQ(b.status().code(), absl::StatusCode::kResourceExhausted)
          << b.status();
      EXPECT_TRUE(absl::StrContains(Text(b.status()), in.what)) << b.status();
      EXPECT_TRUE(absl::StrContains(Text(b.status()), "segment 1"))
          << b.status();
    }
    EXPECT_EQ(census.LeakedFds(), 0) << census.Describe();
    EXPECT_EQ(census.LeakedMappings(), 0);
    EXPECT_FALSE(port.closed());
    // The failure was one call: the retry creates segment 1.
    ASSERT_TRUE(SendPattern(port, 2, 4096).ok());
    FillPattern(held->data(), held->size(), 3);
    ASSERT_TRUE(port.Send(3, *std::move(held)).ok());
    ASSERT_TRUE(port.SendCopy(kEnd, std::vector<uint8_t>{0}).ok());
    EXPECT_EQ(receiver.child.Wait(kBound), "exit 0");
    EXPECT_EQ(port.stats().protocol_errors, 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(
    EachCall, SegmentCreationFailureTest,
    ::testing::Values(
        Injection{sys::Call::kMemfdCreate, EMFILE, "memfd_create"},
        Injection{sys::Call::kMemfdCreate, ENOMEM, "memfd_create"},
        Injection{sys::Call::kFtruncate, ENOMEM, "ftruncate"},
        Injection{sys::Call::kMmap, ENOMEM, "mmap"}),
    Name);

class RingCreationFailureTest : public ::testing::TestWithParam<Injection> {};

TEST_P(RingCreationFailureTest, PortOpenIsResourceExhaustedAndLeaksNothing) {
  const Injection& in = GetParam();
  {
    CheckingReceiver receiver = ForkCheckingReceiver();
    const int fds = CountOpenFds();
    const int mappings = CountSegmentMappings();
    {
      sys::ScopedFailure failure(in.call, in.error);
      auto port = Port::Open(std::move(receiver.socket),
                             {.pid = receiver.child.pid()}, PortOptions());
      ASSERT_EQ(port.status().code(), absl::StatusCode::kResourceExhausted)
          << port.status();
      EXPECT_TRUE(absl::StrContains(Text(port.status()), in.what))
          << port.status();
      EXPECT_TRUE(absl::StrContains(Text(port.status()), "ring"))
          << port.status();
    }
    EXPECT_EQ(CountOpenFds(), fds - 1) << "only the port's socket may go";
    EXPECT_EQ(CountSegmentMappings(), mappings);
    // The child learns of it as a failed open or a closed port.
    const std::string end = receiver.child.Wait(kBound);
    EXPECT_TRUE(end == absl::StrCat("exit ", kOpenFailed) ||
                end == absl::StrCat("exit ", kPortClosed))
        << end;
  }
  // Without the failure, a port opens.
  CheckingReceiver receiver = ForkCheckingReceiver();
  auto port = Port::Open(std::move(receiver.socket),
                         {.pid = receiver.child.pid()}, PortOptions());
  ASSERT_TRUE(port.ok()) << port.status();
  ASSERT_TRUE((*port)->SendCopy(kEnd, std::vector<uint8_t>{0}).ok());
  EXPECT_EQ(receiver.child.Wait(kBound), "exit 0");
}

INSTANTIATE_TEST_SUITE_P(
    EachCall, RingCreationFailureTest,
    ::testing::Values(Injection{sys::Call::kMemfdCreate, EMFILE,
                                "memfd_create"},
                      Injection{sys::Call::kFtruncate, ENOMEM, "ftruncate"},
                      Injection{sys::Call::kMmap, ENOMEM, "mmap"}),
    Name);

// The receiving child injects an mmap failure, then lets the parent send.
// `after_first` false: the failure hits the peer's ring (NEW_RING, the
// first thing the child processes); true: it hits the first segment
// (NEW_SEGMENT), once an inline message proved the ring works.
int ReceiveWithFailingMmap(Port& port, Signal& go, bool after_first,
                           const char* message_type) {
  if (after_first) {
    auto first = port.Receive(kBound);
    CHILD_CHECK(first.ok(), first.status().ToString());
  }
  const int fds = CountOpenFds();
  const int mappings = CountSegmentMappings();
  sys::ScopedFailure failure(sys::Call::kMmap, ENOMEM);
  go.Notify();
  auto m = port.Receive(kBound);
  CHILD_CHECK(absl::IsUnavailable(m.status()), m.status().ToString());
  const std::string reason = Text(port.closed_reason());
  CHILD_CHECK(absl::IsUnavailable(port.closed_reason()), reason);
  for (const char* part : {"this process could not take the peer's",
                           message_type, "mmap", "Cannot allocate memory"}) {
    CHILD_CHECK(absl::StrContains(reason, part), reason);
  }
  CHILD_CHECK(!absl::StrContains(reason, "protocol error"), reason);
  CHILD_CHECK(port.stats().protocol_errors == 0, "protocol_errors");
  // The memfd that could not be mapped was closed; nothing new is mapped.
  CHILD_CHECK(CountOpenFds() == fds, absl::StrCat(CountOpenFds(), " vs ", fds));
  CHILD_CHECK(CountSegmentMappings() <= mappings, "a mapping leaked");
  return 0;
}

void ExpectReceiverClosesOnFailingMmap(bool after_first,
                                       const char* message_type) {
  ProcessCensus census;
  {
    Signal go;
    auto peer = ForkPeer([&](Port& port) {
      return ReceiveWithFailingMmap(port, go, after_first, message_type);
    });
    ASSERT_TRUE(peer.ok()) << peer.status();
    if (after_first) {
      ASSERT_TRUE(peer->port->SendCopy(1, std::vector<uint8_t>(10, 1)).ok());
    }
    ASSERT_TRUE(go.Wait(kBound).has_value());
    (void)peer->port->SendCopy(2, std::vector<uint8_t>(8192, 2));
    // The receiver's close reaches this side as UNAVAILABLE, in bound.
    const absl::Status end = ReceiveUntilError(*peer->port, kBound, 1000);
    EXPECT_EQ(end.code(), absl::StatusCode::kUnavailable) << end;
    EXPECT_EQ(peer->child.Wait(kBound), "exit 0");
  }
  EXPECT_EQ(census.LeakedFds(), 0) << census.Describe();
  EXPECT_EQ(census.LeakedMappings(), 0);
}

TEST(ReceiverMappingFailureTest, UnmappableSegmentClosesThePortWithAReason) {
  ExpectReceiverClosesOnFailingMmap(/*after_first=*/true, "NEW_SEGMENT");
}

TEST(ReceiverMappingFailureTest, UnmappableRingClosesThePortWithAReason) {
  ExpectReceiverClosesOnFailingMmap(/*after_first=*/false, "NEW_RING");
}

}  // namespace
}  // namespace shmport::testing
