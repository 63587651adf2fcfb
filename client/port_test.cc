// Port behaviour with both ends in one process. The multi-process,
// fault and stress acceptance tests live in tests/ports/.
#include "shmport/port.h"

#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/ports/port_harness.h"
#include "tests/util/process_census.h"

namespace shmport {
namespace {

using ::shmport::testing::CheckPattern;
using ::shmport::testing::FillPattern;
using ::shmport::testing::LocalPorts;
using ::shmport::testing::OpenLocalPorts;
using ::shmport::testing::SmallPortOptions;
using ::testing::HasSubstr;

constexpr absl::Duration kLong = absl::Seconds(10);

std::string Text(const absl::Status& s) { return std::string(s.message()); }

bool Readable(int fd, absl::Duration timeout) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, absl::ToInt64Milliseconds(timeout)) == 1;
}

TEST(PortTest, SmallPayloadTravelsInline) {
  auto ports = OpenLocalPorts();
  ASSERT_TRUE(ports.ok()) << ports.status();
  const std::string hello = "hello, port";
  ASSERT_TRUE(ports->a
                  ->SendCopy(7,
                             absl::MakeConstSpan(
                                 reinterpret_cast<const uint8_t*>(hello.data()),
                                 hello.size()),
                             /*last=*/true)
                  .ok());
  auto m = ports->b->Receive(kLong);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->ToString(), hello);
  EXPECT_EQ(m->stream(), 7u);
  EXPECT_TRUE(m->last());
  EXPECT_FALSE(m->in_shared_memory());
}

TEST(PortTest, SharedMemoryBufferArrivesInPlace) {
  auto ports = OpenLocalPorts();
  ASSERT_TRUE(ports.ok()) << ports.status();
  auto buf = ports->a->Allocate(100000);
  ASSERT_TRUE(buf.ok()) << buf.status();
  EXPECT_TRUE(buf->in_shared_memory());
  EXPECT_EQ(buf->size(), 100000u);
  EXPECT_GE(buf->capacity(), 100000u);
  FillPattern(buf->data(), buf->size(), 42);
  ASSERT_TRUE(ports->a->Send(1, *std::move(buf)).ok());
  auto m = ports->b->Receive(kLong);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_TRUE(m->in_shared_memory());
  EXPECT_EQ(m->size(), 100000u);
  EXPECT_EQ(m->fragment_count(), 1u);
  EXPECT_TRUE(CheckPattern(*m, 42));
  EXPECT_FALSE(m->last());
  // One segment crossed, once.
  EXPECT_EQ(ports->a->stats().segments_out, 1u);
  EXPECT_EQ(ports->b->stats().segments_in, 1u);
}

TEST(PortTest, EmptyMessageArrives) {
  auto ports = OpenLocalPorts();
  ASSERT_TRUE(ports.ok());
  ASSERT_TRUE(ports->a->SendCopy(3, {}).ok());
  auto m = ports->b->Receive(kLong);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->size(), 0u);
  EXPECT_EQ(m->fragment_count(), 0u);
  EXPECT_EQ(m->stream(), 3u);
}

TEST(PortTest, SeveralBuffersArriveAsOrderedFragmentsOfOneMessage) {
  auto ports = OpenLocalPorts();
  ASSERT_TRUE(ports.ok());
  std::vector<Buffer> buffers;
  for (int i = 0; i < 5; ++i) {
    auto b = ports->a->Allocate(20000 + i);
    ASSERT_TRUE(b.ok());
    std::memset(b->data(), 'a' + i, b->size());
    buffers.push_back(*std::move(b));
  }
  ASSERT_TRUE(ports->a->Send(9, std::move(buffers)).ok());
  auto m = ports->b->Receive(kLong);
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->fragment_count(), 5u);
  for (int i = 0; i < 5; ++i) {
    auto f = m->fragment(i);
    EXPECT_EQ(f.size(), 20000u + i);
    EXPECT_EQ(f[0], 'a' + i);
    EXPECT_EQ(f[f.size() - 1], 'a' + i);
  }
  EXPECT_EQ(ports->a->stats().messages_sent, 1u);
}

TEST(PortTest, ReceiverFreesChunksInPlaceWhenTheMessageDrops) {
  auto ports = OpenLocalPorts();
  ASSERT_TRUE(ports.ok());
  ASSERT_TRUE(ports->a->SendCopy(1, std::vector<uint8_t>(50000, 1)).ok());
  auto m = ports->b->Receive(kLong);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(ports->a->stats().chunks_in_use, 4u);  // 50000 B in 16 KiB chunks
  *m = Message();
  EXPECT_EQ(ports->a->stats().chunks_in_use, 0u);
}

TEST(PortTest, ABufferShrunkBeforeSendReturnsEveryChunk) {
  auto ports = OpenLocalPorts();
  ASSERT_TRUE(ports.ok());
  auto b = ports->a->Allocate(40000);  // 3 chunks of 16 KiB
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE(b->Resize(100));  // the descriptor covers one of them
  ASSERT_TRUE(ports->a->Send(1, std::move(*b)).ok());
  EXPECT_EQ(ports->a->stats().chunks_in_use, 1u);  // the peer's, not leaked
  auto m = ports->b->Receive(kLong);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->size(), 100u);
  *m = Message();
  EXPECT_EQ(ports->a->stats().chunks_in_use, 0u);
}

TEST(PortTest, UnsentBufferReturnsItsChunks) {
  auto ports = OpenLocalPorts();
  ASSERT_TRUE(ports.ok());
  {
    auto b = ports->a->Allocate(1 << 20);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(ports->a->stats().chunks_in_use, 64u);
  }
  EXPECT_EQ(ports->a->stats().chunks_in_use, 0u);
}

TEST(PortTest, TryExtendGrowsInPlaceUntilANeighbourIsBusy) {
  auto ports = OpenLocalPorts(SmallPortOptions(8, 1));
  ASSERT_TRUE(ports.ok());
  auto first = ports->a->Allocate(4096);
  ASSERT_TRUE(first.ok());
  first->data()[0] = 'x';
  uint8_t* where = first->data();
  EXPECT_TRUE(first->TryExtend(3 * 4096));
  EXPECT_EQ(first->data(), where);  // in place: nothing moved
  EXPECT_EQ(first->size(), 3u * 4096);
  EXPECT_EQ(first->data()[0], 'x');
  auto second = ports->a->Allocate(4096);  // takes chunk 3
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(first->TryExtend(4 * 4096));
  EXPECT_EQ(first->size(), 3u * 4096);         // unchanged
  EXPECT_FALSE(first->TryExtend(100 * 4096));  // beyond the segment
}

TEST(PortTest, InlineBufferCannotExtendPastItsCapacity) {
  auto ports = OpenLocalPorts();
  ASSERT_TRUE(ports.ok());
  auto b = ports->a->Allocate(10);
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->in_shared_memory());
  EXPECT_TRUE(b->TryExtend(500));
  EXPECT_FALSE(b->TryExtend(5000));
}

TEST(PortTest, AllocationLargerThanASegmentIsRefusedWithAClearError) {
  auto ports = OpenLocalPorts();
  ASSERT_TRUE(ports.ok());
  auto b = ports->a->Allocate(17 << 20);
  EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Text(b.status()),
              HasSubstr("must fit one segment's data area (16777216 bytes"));
  EXPECT_THAT(Text(b.status()), HasSubstr("use SendCopy"));
}

TEST(PortTest, AllocateWithMinimumTakesWhatIsAvailable) {
  auto ports = OpenLocalPorts(SmallPortOptions(8, 1));
  ASSERT_TRUE(ports.ok());
  auto hold = ports->a->Allocate(5 * 4096);
  ASSERT_TRUE(hold.ok());
  auto b = ports->a->Allocate(8 * 4096, 2 * 4096, absl::ZeroDuration());
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->size(), 2u * 4096);  // the 3 free chunks allow 2 (halving)
  EXPECT_GE(b->size(), 2u * 4096);
}

TEST(PortTest, ExhaustedPoolGivesResourceExhaustedThenReadableFdAfterFree) {
  auto ports = OpenLocalPorts(SmallPortOptions(2, 1));
  ASSERT_TRUE(ports.ok());
  for (int i = 0; i < 2; ++i) {
    auto b = ports->a->Allocate(4096);
    ASSERT_TRUE(b.ok());
    ASSERT_TRUE(ports->a->Send(i, *std::move(b)).ok());
  }
  auto none = ports->a->TryAllocate(4096);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(Text(none.status()), HasSubstr("out of shared memory"));
  EXPECT_EQ(ports->a->stats().oosm_waits, 1u);
  // Take in what the peer sent while opening (its ring); after that nothing
  // is readable on the sender's socket: no ack is owed yet.
  ASSERT_TRUE(ports->a->TryReceive().ok());
  EXPECT_FALSE(Readable(ports->a->fd(), absl::ZeroDuration()));
  auto m = ports->b->Receive(kLong);
  ASSERT_TRUE(m.ok());
  *m = Message();  // frees a chunk and clears oosm: SHM_ACK
  EXPECT_TRUE(Readable(ports->a->fd(), kLong));
  auto nothing = ports->a->TryReceive();  // consumes the SHM_ACK
  ASSERT_TRUE(nothing.ok());
  EXPECT_FALSE(nothing->has_value());
  EXPECT_TRUE(ports->a->TryAllocate(4096).ok());
}

TEST(PortTest, BlockedAllocateTimesOutWithDeadlineExceededAndLosesNothing) {
  auto ports = OpenLocalPorts(SmallPortOptions(1, 1));
  ASSERT_TRUE(ports.ok());
  ASSERT_TRUE(ports->a->SendCopy(1, std::vector<uint8_t>(4096, 7)).ok());
  auto b = ports->a->Allocate(4096, absl::Milliseconds(20));
  EXPECT_EQ(b.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(Text(b.status()), HasSubstr("the receiver holds them"));
  auto m = ports->b->Receive(kLong);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->ToString(), std::string(4096, 7));
}

TEST(PortTest, ReceiverWinsTrackingRaceThenSenderCancelFails) {
  auto ports = OpenLocalPorts();
  ASSERT_TRUE(ports.ok());
  auto b = ports->a->Allocate(8000);
  ASSERT_TRUE(b.ok());
  auto t = ports->a->SendTracked(5, *std::move(b));
  ASSERT_TRUE(t.ok()) << t.status();
  auto m = ports->b->Receive(kLong);  // claims the slot
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->stream(), 5u);
  auto cancelled = t->Cancel();
  ASSERT_TRUE(cancelled.ok());
  EXPECT_FALSE(*cancelled);
  EXPECT_EQ(ports->a->stats().cancels_lost, 1u);
  EXPECT_EQ(ports->a->stats().tracking_in_flight, 0u);
}

TEST(PortTest, SenderCancelsFirstThenReceiverDropsTheMessageUnseen) {
  auto ports = OpenLocalPorts();
  ASSERT_TRUE(ports.ok());
  auto b = ports->a->Allocate(8000);
  ASSERT_TRUE(b.ok());
  auto t = ports->a->SendTracked(5, *std::move(b));
  ASSERT_TRUE(t.ok());
  auto inline_b = ports->a->Allocate(10);
  auto t2 = ports->a->SendTracked(6, *std::move(inline_b));
  ASSERT_TRUE(t2.ok());
  EXPECT_EQ(ports->a->stats().tracking_in_flight, 2u);
  ASSERT_TRUE(*t->Cancel());
  ASSERT_TRUE(*t2->Cancel());
  EXPECT_FALSE(*t->Cancel());  // settled already
  ASSERT_TRUE(ports->a->SendCopy(7, {}).ok());
  auto m = ports->b->Receive(kLong);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->stream(), 7u);  // 5 and 6 were dropped unseen
  EXPECT_EQ(ports->b->stats().cancelled_dropped, 2u);
  EXPECT_EQ(ports->a->stats().cancels_won, 2u);
  EXPECT_EQ(ports->a->stats().tracking_in_flight, 0u);
  EXPECT_EQ(ports->a->stats().chunks_in_use, 0u);  // the dropped chunks too
}

TEST(PortTest, CancelAfterThePortClosedIsUnavailable) {
  auto ports = OpenLocalPorts();
  ASSERT_TRUE(ports.ok());
  auto t = ports->a->SendTracked(1, *ports->a->Allocate(10));
  ASSERT_TRUE(t.ok());
  ports->a->Close();
  EXPECT_EQ(t->Cancel().status().code(), absl::StatusCode::kUnavailable);
  Tracking empty;
  EXPECT_EQ(empty.Cancel().status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(PortTest, CloseWakesABlockedReceiverWithUnavailable) {
  auto ports = OpenLocalPorts();
  ASSERT_TRUE(ports.ok());
  absl::Status got;
  std::thread receiver(
      [&] { got = ports->b->Receive(absl::InfiniteDuration()).status(); });
  // Whether Close lands before or during the Receive, the answer is the same.
  ports->b->Close();
  receiver.join();
  EXPECT_EQ(got.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Text(got), HasSubstr("closed by this end"));
}

TEST(PortTest, PeerCloseIsReportedAfterQueuedMessagesAreHandedOut) {
  auto ports = OpenLocalPorts();
  ASSERT_TRUE(ports.ok());
  ASSERT_TRUE(ports->a->SendCopy(1, std::vector<uint8_t>(3, 1)).ok());
  ASSERT_TRUE(ports->a->SendCopy(2, std::vector<uint8_t>(30000, 2)).ok());
  ports->a.reset();  // BYE
  auto m1 = ports->b->Receive(kLong);
  ASSERT_TRUE(m1.ok()) << m1.status();
  auto m2 = ports->b->Receive(kLong);
  ASSERT_TRUE(m2.ok()) << m2.status();
  EXPECT_EQ(m2->ToString(), std::string(30000, 2));  // the mapping survives
  auto m3 = ports->b->Receive(kLong);
  EXPECT_EQ(m3.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Text(m3.status()), HasSubstr("the peer closed the port"));
  EXPECT_TRUE(ports->b->closed());
}

TEST(PortTest, MessagesAndBuffersOutliveTheirPort) {
  testing::ProcessCensus census;
  {
    auto ports = OpenLocalPorts();
    ASSERT_TRUE(ports.ok());
    ASSERT_TRUE(ports->a->SendCopy(1, std::vector<uint8_t>(40000, 9)).ok());
    auto m = ports->b->Receive(kLong);
    auto b = ports->a->Allocate(40000);
    ASSERT_TRUE(m.ok() && b.ok());
    ports->a.reset();
    ports->b.reset();
    EXPECT_EQ(m->ToString(), std::string(40000, 9));
    std::memset(b->data(), 1, b->size());
  }
  EXPECT_EQ(census.LeakedFds(), 0) << census.Describe();
  EXPECT_EQ(census.LeakedMappings(), 0);
}

TEST(PortTest, APortDroppedWithUnreadSharedMemoryMessagesLeaksNothing) {
  testing::ProcessCensus census;
  {
    auto ports = OpenLocalPorts();
    ASSERT_TRUE(ports.ok());
    // The first message announces the segment (over the socket).
    ASSERT_TRUE(ports->a->SendCopy(0, std::vector<uint8_t>(40000, 1)).ok());
    ASSERT_TRUE(ports->b->Receive(kLong).ok());
    // These go through the ring; one Receive drains them all into the
    // inbox and hands out the first.
    for (int i = 1; i <= 3; ++i) {
      ASSERT_TRUE(ports->a->SendCopy(i, std::vector<uint8_t>(40000, 1)).ok());
    }
    auto first = ports->b->Receive(kLong);
    ASSERT_TRUE(first.ok());
    ASSERT_EQ(ports->a->stats().chunks_in_use, 9u);  // 3 x 3 chunks
    ports->b.reset();  // two Messages, each referencing b's core, unread
    EXPECT_EQ(ports->a->stats().chunks_in_use, 3u);  // theirs came back
    ports->a.reset();
  }
  EXPECT_EQ(census.LeakedFds(), 0) << census.Describe();
  EXPECT_EQ(census.LeakedMappings(), 0);
}

TEST(PortTest, BufferOfAnotherPortIsRefused) {
  auto one = OpenLocalPorts();
  auto two = OpenLocalPorts();
  ASSERT_TRUE(one.ok() && two.ok());
  auto b = one->a->Allocate(50000);
  ASSERT_TRUE(b.ok());
  absl::Status s = two->a->Send(1, *std::move(b));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Text(s), HasSubstr("allocated by another port"));
  EXPECT_EQ(two->a->Send(1, Buffer()).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PortTest, IdleExtraSegmentsAreReleasedOnBothSides) {
  PortOptions o = SmallPortOptions(2, 4);
  o.idle_segment_timeout = absl::ZeroDuration();
  auto ports = OpenLocalPorts(o);
  ASSERT_TRUE(ports.ok());
  {
    std::vector<Buffer> held;  // grow the pool to 3 segments
    for (int i = 0; i < 6; ++i) held.push_back(*ports->a->Allocate(4096));
    ASSERT_TRUE(ports->a->Send(1, std::move(held)).ok());
    auto m = ports->b->Receive(kLong);
    ASSERT_TRUE(m.ok());
  }
  EXPECT_EQ(ports->a->stats().segments_out, 3u);
  EXPECT_EQ(ports->b->stats().segments_in, 3u);
  // Two idle checks (each after 256 sends) see the extra segments unused.
  for (int i = 0; i < 600; ++i) {
    ASSERT_TRUE(ports->a->SendCopy(2, {}).ok());
    ASSERT_TRUE(ports->b->Receive(kLong).ok());
  }
  EXPECT_EQ(ports->a->stats().segments_out, 1u);
  EXPECT_EQ(ports->b->stats().segments_in, 1u);
  // The pool grows again on demand, reusing the released ids.
  std::vector<Buffer> again;
  for (int i = 0; i < 6; ++i) again.push_back(*ports->a->Allocate(4096));
  ASSERT_TRUE(ports->a->Send(3, std::move(again)).ok());
  auto m = ports->b->Receive(kLong);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->fragment_count(), 6u);
}

TEST(PortTest, HandshakeRefusesAPeerWhoseKernelPidDiffers) {
  testing::SocketPair sp = testing::MakeSocketPair();
  PortOptions o;
  ASSERT_TRUE(Port::SendHello(sp.b.get(), o).ok());
  auto port = Port::Open(std::move(sp.a), {.pid = ::getpid() + 1}, o);
  EXPECT_EQ(port.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(Text(port.status()), HasSubstr("the kernel reports pid"));
}

TEST(PortTest, HandshakeRefusesAPeerWhoseUidDiffers) {
  testing::SocketPair sp = testing::MakeSocketPair();
  PortOptions o;
  ASSERT_TRUE(Port::SendHello(sp.b.get(), o).ok());
  auto port = Port::Open(std::move(sp.a), {.uid = ::geteuid() + 1}, o);
  EXPECT_EQ(port.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(Text(port.status()), HasSubstr("uid"));
}

TEST(PortTest, HandshakeTimesOutWhenThePeerIsSilent) {
  testing::ProcessCensus census;
  {
    testing::SocketPair sp = testing::MakeSocketPair();
    PortOptions o;
    o.hello_timeout = absl::Milliseconds(30);
    auto port = Port::Open(std::move(sp.a), {}, o);
    EXPECT_EQ(port.status().code(), absl::StatusCode::kDeadlineExceeded);
  }
  EXPECT_EQ(census.LeakedFds(), 0) << census.Describe();
}

TEST(PortTest, HandshakeRefusesGeometryBeyondThisEndsLimits) {
  testing::SocketPair sp = testing::MakeSocketPair();
  PortOptions big;
  big.max_segments = 100;
  ASSERT_TRUE(Port::SendHello(sp.b.get(), big).ok());
  PortOptions o;
  o.max_peer_segments = 8;
  auto port = Port::Open(std::move(sp.a), {}, o);
  EXPECT_EQ(port.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Text(port.status()), HasSubstr("max_segments 100"));
}

TEST(PortTest, HandshakeRefusesAHelloForAnotherPort) {
  testing::SocketPair sp = testing::MakeSocketPair();
  PortOptions theirs;
  theirs.port_id = 8;
  ASSERT_TRUE(Port::SendHello(sp.b.get(), theirs).ok());
  PortOptions ours;
  ours.port_id = 9;
  auto port = Port::Open(std::move(sp.a), {}, ours);
  EXPECT_EQ(port.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Text(port.status()), HasSubstr("is for port 8"));
}

TEST(PortTest, BadOptionsAreRefusedBeforeAnythingIsSent) {
  testing::SocketPair sp = testing::MakeSocketPair();
  PortOptions o;
  o.geometry.chunk_size = 1000;
  auto port = Port::Open(std::move(sp.a), {}, o);
  EXPECT_EQ(port.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Text(port.status()), HasSubstr("chunk_size 1000"));
}

// Sends message `stream` from `from` once `to` is busy-polling its ring
// (its receive_spins counter moved past `spins`), so that it arrives
// during the spin.
std::thread SendWhileSpinning(Port& from, const Port& to, uint64_t spins,
                              uint32_t stream) {
  return std::thread([&from, &to, spins, stream] {
    const absl::Time give_up = absl::Now() + kLong;
    while (to.stats().receive_spins == spins && absl::Now() < give_up) {
      std::this_thread::yield();
    }
    EXPECT_TRUE(from.SendCopy(stream, std::vector<uint8_t>(64, 1)).ok());
  });
}

TEST(PortTest, AdaptiveSpinStopsAfterEightMissesAndRetriesEvery64thWait) {
  PortOptions spinning;
  spinning.adaptive_spin = absl::Seconds(30);  // ends only with a message
                                               // or the Receive deadline
  auto ports = OpenLocalPorts(PortOptions(), spinning);
  ASSERT_TRUE(ports.ok()) << ports.status();
  Port& a = *ports->a;
  Port& b = *ports->b;
  ASSERT_TRUE(a.SendCopy(1, std::vector<uint8_t>(64, 1)).ok());
  ASSERT_TRUE(b.Receive(kLong).ok());  // b reads a's ring from now on

  // A message that comes while b spins is a hit.
  PortStats start = b.stats();
  std::thread sender = SendWhileSpinning(a, b, start.receive_spins, 2);
  auto m = b.Receive(kLong);
  sender.join();
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->stream(), 2u);
  EXPECT_EQ(b.stats().receive_spins, start.receive_spins + 1);
  EXPECT_EQ(b.stats().receive_spin_hits, start.receive_spin_hits + 1);

  // Eight waits in a row that spin in vain...
  start = b.stats();
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(b.Receive(absl::Milliseconds(1)).status().code(),
              absl::StatusCode::kDeadlineExceeded);
  }
  EXPECT_EQ(b.stats().receive_spins, start.receive_spins + 8);
  // ...and the next 63 sleep at once; the 64th tries again.
  for (int i = 0; i < 63; ++i) {
    EXPECT_EQ(b.Receive(absl::Milliseconds(1)).status().code(),
              absl::StatusCode::kDeadlineExceeded);
  }
  EXPECT_EQ(b.stats().receive_spins, start.receive_spins + 8);
  sender = SendWhileSpinning(a, b, b.stats().receive_spins, 3);
  m = b.Receive(kLong);
  sender.join();
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(b.stats().receive_spins, start.receive_spins + 9);
  EXPECT_EQ(b.stats().receive_spin_hits, start.receive_spin_hits + 1);
  // That hit made spinning pay again: the next wait spins.
  EXPECT_EQ(b.Receive(absl::Milliseconds(1)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(b.stats().receive_spins, start.receive_spins + 10);
}

TEST(PortTest, NoSpinWhenBothSpinOptionsAreZero) {
  PortOptions still;
  still.adaptive_spin = absl::ZeroDuration();
  auto ports = OpenLocalPorts(PortOptions(), still);
  ASSERT_TRUE(ports.ok()) << ports.status();
  ASSERT_TRUE(ports->a->SendCopy(1, std::vector<uint8_t>(64, 1)).ok());
  ASSERT_TRUE(ports->b->Receive(kLong).ok());
  EXPECT_EQ(ports->b->Receive(absl::Milliseconds(1)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(ports->b->stats().receive_spins, 0u);
}

TEST(PortConcurrencyTest, OneThreadSendsWhileAnotherReceivesBothWays) {
  auto ports = OpenLocalPorts(SmallPortOptions(16, 2), SmallPortOptions(16, 2));
  ASSERT_TRUE(ports.ok());
  constexpr int kMessages = 3000;
  std::atomic<int> bad{0};
  auto sender = [&](Port* port) {
    for (int i = 0; i < kMessages; ++i) {
      const size_t size = (i % 3 == 0) ? 100 : 4096 * (1 + i % 5);
      auto b = port->Allocate(size, kLong);
      if (!b.ok()) {
        bad++;
        return;
      }
      FillPattern(b->data(), b->size(), i);
      if (!port->Send(i, *std::move(b)).ok()) {
        bad++;
        return;
      }
    }
  };
  auto receiver = [&](Port* port) {
    for (int i = 0; i < kMessages; ++i) {
      auto m = port->Receive(kLong);
      if (!m.ok() || m->stream() != static_cast<uint32_t>(i) ||
          !CheckPattern(*m, i)) {
        bad++;
        return;
      }
    }
  };
  std::thread t1(sender, ports->a.get()), t2(receiver, ports->a.get());
  std::thread t3(sender, ports->b.get()), t4(receiver, ports->b.get());
  t1.join();
  t2.join();
  t3.join();
  t4.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(ports->a->stats().chunks_in_use, 0u);
  EXPECT_EQ(ports->b->stats().chunks_in_use, 0u);
}

TEST(PortConcurrencyTest, SeveralThreadsSendOnOnePortWithoutLoss) {
  auto ports = OpenLocalPorts(SmallPortOptions(8, 2));
  ASSERT_TRUE(ports.ok());
  constexpr int kThreads = 3, kEach = 1500;
  std::vector<std::thread> senders;
  std::atomic<int> bad{0};
  for (int t = 0; t < kThreads; ++t) {
    senders.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto b = ports->a->Allocate(5000, kLong);
        if (!b.ok()) {
          bad++;
          return;
        }
        FillPattern(b->data(), b->size(), t * 100000 + i);
        if (!ports->a->Send(t, *std::move(b)).ok()) bad++;
      }
    });
  }
  std::vector<int> next(kThreads, 0);
  for (int n = 0; n < kThreads * kEach; ++n) {
    auto m = ports->b->Receive(kLong);
    ASSERT_TRUE(m.ok()) << m.status();
    const int t = m->stream();
    ASSERT_LT(t, kThreads);
    // Per sender, messages arrive in the order sent.
    EXPECT_TRUE(CheckPattern(*m, t * 100000 + next[t]));
    next[t]++;
  }
  for (auto& s : senders) s.join();
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
}  // namespace shmport
