// Fault injection (issue 7): a process out of file descriptors
// (RLIMIT_NOFILE, set in a forked child). What needs a new fd fails with a
// clear RESOURCE_EXHAUSTED, nothing leaks, and the port works again once
// fds are available. Where the kernel itself drops an fd in flight (a
// receiver with no room for a NEW_SEGMENT's memfd or a PortOpened's
// socket), the port cannot survive: it must close with a reason, leak
// nothing, and leave the rest of the process working.
#include <sys/socket.h>
#include <unistd.h>

#include <functional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "shmport/port.h"
#include "shmport/session.h"
#include "tests/control/daemon_process.h"
#include "tests/control/raw_client.h"
#include "tests/fault/child_check.h"
#include "tests/fault/fd_limit.h"
#include "tests/load/worker_ring.h"
#include "tests/ports/port_harness.h"
#include "tests/util/eventually.h"
#include "tests/util/process_census.h"

namespace shmport::testing {
namespace {

constexpr absl::Duration kBound = absl::Seconds(20);

std::string Text(const absl::Status& s) { return std::string(s.message()); }

TEST(FdExhaustionTest, SenderWithoutFdsGetsResourceExhaustedThenRecovers) {
  ProcessCensus census;
  {
    // Segments of 4 chunks; the sender fills segment 0 and then needs a
    // new segment, i.e. a new memfd, while it has no fd to spare.
    Signal done;
    auto peer = ForkPeer(
        [&done](Port& port) -> int {
          CHILD_CHECK(port.SendCopy(1, std::vector<uint8_t>(10, 1)).ok(),
                      "first message");
          // Segment 0, all of it, held unsent (its memfd stays open).
          absl::StatusOr<Buffer> held = port.Allocate(4 * 4096, kBound);
          CHILD_CHECK(held.ok(), held.status().ToString());
          const int fds = CountOpenFds();
          const int mappings = CountSegmentMappings();
          absl::StatusOr<FdLimit> limit = FdLimit::Exhaust();
          CHILD_CHECK(limit.ok(), limit.status().ToString());
          for (int attempt = 0; attempt < 3; ++attempt) {
            absl::StatusOr<Buffer> b = port.Allocate(4096, kBound);
            CHILD_CHECK(absl::IsResourceExhausted(b.status()),
                        b.status().ToString());
            CHILD_CHECK(
                absl::StrContains(Text(b.status()), "memfd_create") &&
                    absl::StrContains(Text(b.status()), "Too many open files"),
                Text(b.status()));
          }
          CHILD_CHECK(!port.closed(), Text(port.closed_reason()));
          CHILD_CHECK(limit->OpenFds() == fds + limit->fillers(),
                      absl::StrCat(limit->OpenFds() - limit->fillers(),
                                   " fds, had ", fds));
          CHILD_CHECK(limit->SegmentMappings() == mappings, "a mapping leaked");
          // One fd free: the memfd is made, announced, and closed again.
          CHILD_CHECK(limit->Allow(1).ok(), "Allow");
          absl::StatusOr<Buffer> b = port.Allocate(4096, kBound);
          CHILD_CHECK(b.ok(), b.status().ToString());
          FillPattern(b->data(), b->size(), 2);
          const absl::Status sent = port.Send(2, *std::move(b));
          CHILD_CHECK(sent.ok(), sent.ToString());
          CHILD_CHECK(limit->OpenFds() == fds + limit->fillers(),
                      "the new segment's fd stayed open");
          // Stay until the parent has it all (see port_lifecycle_test.cc:
          // a peer gone before this end's Open ends makes the Open fail).
          CHILD_CHECK(done.Wait(kBound).has_value(), "no done signal");
          return 0;
        },
        SmallPortOptions(4, 4), SmallPortOptions(4, 4));
    ASSERT_TRUE(peer.ok()) << peer.status();
    auto first = peer->port->Receive(kBound);
    ASSERT_TRUE(first.ok()) << first.status();
    EXPECT_EQ(first->stream(), 1u);
    auto second = peer->port->Receive(kBound);
    ASSERT_TRUE(second.ok()) << second.status();
    EXPECT_EQ(second->stream(), 2u);
    EXPECT_TRUE(CheckPattern(*second, 2));
    done.Notify();
    EXPECT_EQ(peer->child.Wait(kBound), "exit 0");
  }
  EXPECT_EQ(census.LeakedFds(), 0) << census.Describe();
  EXPECT_EQ(census.LeakedMappings(), 0);
}

// Port::Open needs an eventfd and, once the peer's HELLO is in, a memfd
// for its ring. Without an fd for either it fails with RESOURCE_EXHAUSTED
// and closes the socket it was given; with fds back, a port opens.
TEST(FdExhaustionTest, PortOpenWithoutFdsIsResourceExhaustedAndLeaksNothing) {
  ProcessCensus census;
  {
    SocketPair pairs[3] = {MakeSocketPair(), MakeSocketPair(),
                           MakeSocketPair()};
    const pid_t parent = ::getpid();
    ChildProcess child = ChildProcess::Fork([&]() -> int {
      for (SocketPair& p : pairs) p.a.Reset();
      const PeerIdentity peer{.pid = parent};
      for (int spare = 0; spare < 2; ++spare) {
        const int fds = CountOpenFds();
        absl::StatusOr<FdLimit> limit = FdLimit::Exhaust(spare);
        CHILD_CHECK(limit.ok(), limit.status().ToString());
        auto port = Port::Open(std::move(pairs[spare].b), peer, PortOptions());
        CHILD_CHECK(absl::IsResourceExhausted(port.status()),
                    port.status().ToString());
        const char* needed = spare == 0 ? "eventfd" : "memfd_create for a ring";
        CHILD_CHECK(absl::StrContains(Text(port.status()), needed),
                    Text(port.status()));
        limit = absl::InternalError("released");  // restores the limit
        // The socket went with the failure; nothing else stayed open.
        CHILD_CHECK(CountOpenFds() == fds - 1,
                    absl::StrCat(CountOpenFds(), " fds, had ", fds));
        CHILD_CHECK(CountSegmentMappings() == 0, "a ring mapping leaked");
      }
      auto port = Port::Open(std::move(pairs[2].b), peer, PortOptions());
      CHILD_CHECK(port.ok(), port.status().ToString());
      auto m = (*port)->Receive(kBound);
      CHILD_CHECK(m.ok() && m->stream() == 7, m.status().ToString());
      return 0;
    });
    for (SocketPair& p : pairs) p.b.Reset();
    const PeerIdentity peer{.pid = child.pid()};
    // The child's failed ends: our handshake fails or the port closes
    // soon; it never hangs past its bound.
    for (int i = 0; i < 2; ++i) {
      auto port = Port::Open(std::move(pairs[i].a), peer, PortOptions());
      if (port.ok()) {
        auto m = (*port)->Receive(kBound);
        EXPECT_EQ(m.status().code(), absl::StatusCode::kUnavailable);
      }
    }
    auto port = Port::Open(std::move(pairs[2].a), peer, PortOptions());
    ASSERT_TRUE(port.ok()) << port.status();
    ASSERT_TRUE((*port)->SendCopy(7, std::vector<uint8_t>(100, 7)).ok());
    EXPECT_EQ(child.Wait(kBound), "exit 0");
  }
  EXPECT_EQ(census.LeakedFds(), 0) << census.Describe();
  EXPECT_EQ(census.LeakedMappings(), 0);
}

// The receiver's side: the kernel cannot install a NEW_SEGMENT's memfd in a
// process at its limit, drops it, and reports MSG_CTRUNC. The segment is
// gone for good, so the port closes: with a reason, no crash, no leak.
// The child reports the reason on stderr as "reason: ...".
int ReceiveWithoutFdsForANewSegment(Port& port, Signal& go,
                                    std::string* reason) {
  auto first = port.Receive(kBound);  // inline: the ring is in place
  CHILD_CHECK(first.ok(), first.status().ToString());
  const int fds = CountOpenFds();
  const int mappings = CountSegmentMappings();
  absl::StatusOr<FdLimit> limit = FdLimit::Exhaust();
  CHILD_CHECK(limit.ok(), limit.status().ToString());
  go.Notify();  // the parent now sends a shared-memory message
  auto m = port.Receive(kBound);
  CHILD_CHECK(absl::IsUnavailable(m.status()), m.status().ToString());
  CHILD_CHECK(port.closed(), "Receive failed but the port is open");
  *reason = Text(port.closed_reason());
  std::fprintf(stderr, "reason: %s\n", reason->c_str());
  CHILD_CHECK(!reason->empty(), "no reason");
  CHILD_CHECK(
      limit->OpenFds() == fds + limit->fillers(),
      absl::StrCat(limit->OpenFds() - limit->fillers(), " fds, had ", fds));
  CHILD_CHECK(limit->SegmentMappings() <= mappings, "a mapping leaked");
  return 0;
}

void SendIntoAnFdlessReceiver(const std::function<int(Port&, Signal&)>& body) {
  ProcessCensus census;
  {
    Signal go;
    auto peer = ForkPeer([&](Port& port) { return body(port, go); });
    ASSERT_TRUE(peer.ok()) << peer.status();
    ASSERT_TRUE(peer->port->SendCopy(1, std::vector<uint8_t>(10, 1)).ok());
    ASSERT_TRUE(go.Wait(kBound).has_value());
    // The send itself may succeed (the memfd left with the datagram); the
    // receiver's close reaches us as UNAVAILABLE, within the bound.
    (void)peer->port->SendCopy(2, std::vector<uint8_t>(8192, 2));
    const absl::Status end = ReceiveUntilError(*peer->port, kBound, 1000);
    EXPECT_EQ(end.code(), absl::StatusCode::kUnavailable) << end;
    EXPECT_EQ(peer->child.Wait(kBound), "exit 0");
  }
  EXPECT_EQ(census.LeakedFds(), 0) << census.Describe();
  EXPECT_EQ(census.LeakedMappings(), 0);
}

TEST(FdExhaustionTest, ReceiverWithoutFdsForANewSegmentClosesThePortCleanly) {
  SendIntoAnFdlessReceiver([](Port& port, Signal& go) {
    std::string reason;
    return ReceiveWithoutFdsForANewSegment(port, go, &reason);
  });
}

// The kernel sets MSG_CTRUNC both for more fds than the receiver makes
// room for and for an fd this process had no slot for. Here it is the
// receiver's own RLIMIT_NOFILE: the port closes with a reason that says
// so, and the peer is not blamed (no protocol error counted).
TEST(FdExhaustionTest,
     ReceiverWithoutFdsSaysItRanOutOfFdsNotThatThePeerMisbehaved) {
  SendIntoAnFdlessReceiver([](Port& port, Signal& go) -> int {
    std::string reason;
    if (int rc = ReceiveWithoutFdsForANewSegment(port, go, &reason)) {
      return rc;
    }
    CHILD_CHECK(!absl::StrContains(reason, "protocol error"), reason);
    CHILD_CHECK(absl::StrContains(reason, "file descriptors") ||
                    absl::StrContains(reason, "RLIMIT_NOFILE"),
                reason);
    CHILD_CHECK(port.stats().protocol_errors == 0, "counted as the peer's");
    return 0;
  });
}

// The broker link's side: a registered process at its fd limit is handed
// a port. The kernel drops the port's socket, the process sees a frame it
// cannot use, and the opener's handshake fails within its bound. The
// process stays registered, leaks nothing, and takes the next port once
// it has fds again.
class PortToAnFdlessProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto daemon = DaemonProcess::Start();
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = *std::move(daemon);
    stub_ = daemon_->NewStub();
    WorkerRingOptions options;
    options.workers = 1;
    options.ports_per_worker = 0;
    options.name_prefix = "fdless";
    options.stream.messages_per_second = 20;
    auto ring = WorkerRing::Start(stub_.get(), options);
    ASSERT_TRUE(ring.ok()) << ring.status();
    ring_ = *std::move(ring);
    // Short bounds for the open that fails (it must not need the whole
    // rpc_timeout), generous ones for the open that must succeed.
    SessionOptions o;
    o.name = "opener";
    o.address = daemon_->address();
    o.rpc_timeout = absl::Seconds(2);
    o.port_options.hello_timeout = absl::Seconds(2);
    auto opener = Session::Connect(o);
    ASSERT_TRUE(opener.ok()) << opener.status();
    opener_ = *std::move(opener);
    o.name = "patient-opener";
    o.rpc_timeout = kBound;
    o.port_options.hello_timeout = kBound;
    auto patient = Session::Connect(o);
    ASSERT_TRUE(patient.ok()) << patient.status();
    patient_opener_ = *std::move(patient);
  }

  // Opens a port to the worker while it has no fd to spare; returns the
  // opener's result and checks what the worker saw.
  absl::Status OpenWhileFdless() {
    auto before = ring_->worker(0).LimitFds(0, kBound);
    EXPECT_TRUE(before.ok()) << before.status();
    if (!before.ok()) return before.status();
    EXPECT_GT(before->open_fds, 3) << "the worker's fd census is blind";
    const absl::Time start = absl::Now();
    auto port = opener_->OpenPort("fdless-0");
    EXPECT_LT(absl::Now() - start, kBound);
    EXPECT_FALSE(port.ok()) << "a port opened to a process with no fds";
    EXPECT_TRUE(Eventually([&] {
      auto r = ring_->worker(0).Report(kBound);
      return r.ok() && r->frames_dropped == before->frames_dropped + 1;
    })) << "the worker never saw the PortOpened frame it could not take";
    auto after = ring_->worker(0).Report(kBound);
    EXPECT_TRUE(after.ok()) << after.status();
    if (after.ok()) {
      EXPECT_EQ(after->open_fds, before->open_fds);
      EXPECT_EQ(after->segment_mappings, before->segment_mappings);
      EXPECT_EQ(after->ports_offered, before->ports_offered);
    }
    auto lifted = ring_->worker(0).LimitFds(-1, kBound);
    EXPECT_TRUE(lifted.ok()) << lifted.status();
    return port.status();
  }

  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<v1::ControlPlane::Stub> stub_;
  std::unique_ptr<WorkerRing> ring_;
  std::unique_ptr<Session> opener_;
  std::unique_ptr<Session> patient_opener_;
};

TEST_F(PortToAnFdlessProcessTest, OpenerFailsInBoundAndTheNextPortWorks) {
  // RESOURCE_EXHAUSTED: the worker told the daemon why it could not take
  // the port (FailedPortLeavesTheRegistryAndTheOpenerLearnsWhy pins the
  // message).
  const absl::Status failed = OpenWhileFdless();
  EXPECT_TRUE(absl::IsResourceExhausted(failed)) << failed;
  // The worker is still registered and attached.
  v1::ListProcessesResponse listed;
  ASSERT_TRUE(stub_->ListProcesses(Context().get(), {}, &listed).ok());
  EXPECT_EQ(listed.processes_size(), 3);
  // With fds back, the next port opens and carries the worker's stream.
  auto port = patient_opener_->OpenPort("fdless-0");
  ASSERT_TRUE(port.ok()) << port.status();
  auto m = (*port)->Receive(kBound);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_GE(m->size(), 24u);
}

// The worker's BrokerLink tells the daemon that it could not take the
// port (PortNotTaken: out of file descriptors). The daemon closes the port,
// so the registry is exact again, and tells the opener why with its
// PortClosed: the opener's OpenPort fails with that reason
// (RESOURCE_EXHAUSTED, naming the peer and its fd shortage) instead of "the
// peer closed before sending HELLO" or a DEADLINE_EXCEEDED after
// rpc_timeout.
TEST_F(PortToAnFdlessProcessTest,
       FailedPortLeavesTheRegistryAndTheOpenerLearnsWhy) {
  const absl::Status failed = OpenWhileFdless();
  EXPECT_TRUE(absl::IsResourceExhausted(failed)) << failed;
  EXPECT_TRUE(absl::StrContains(Text(failed), "'fdless-0'")) << failed;
  EXPECT_TRUE(absl::StrContains(Text(failed), "out of file descriptors"))
      << failed;
  absl::Status registry = ring_->AwaitRegistry(kBound);
  EXPECT_TRUE(registry.ok()) << registry;
}

}  // namespace
}  // namespace shmport::testing
