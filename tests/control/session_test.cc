// Acceptance 1 and the client Session: real client processes register,
// open a port by name, exchange data over shared memory, and ListPorts
// shows their counters; Session behaviour around accept, errors, daemon
// loss and Reconnect.
#include "shmport/session.h"

#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/session_core.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/control/client_process.h"
#include "tests/control/daemon_process.h"
#include "tests/control/raw_client.h"
#include "tests/util/eventually.h"

namespace shmport::testing {
namespace {

using ::testing::HasSubstr;

SessionOptions Options(const DaemonProcess& daemon, const std::string& name) {
  SessionOptions o;
  o.name = name;
  o.address = daemon.address();
  o.stats_interval = absl::Milliseconds(50);
  return o;
}

// Waits (bounded) until ListPorts shows port `id` with both ends' reports
// meeting `done`.
v1::PortInfo AwaitPortStats(
    v1::ControlPlane::Stub& stub, uint64_t id,
    const std::function<bool(const v1::PortInfo&)>& done) {
  v1::PortInfo last;
  EXPECT_TRUE(Eventually([&] {
    v1::ListPortsResponse ports;
    EXPECT_TRUE(stub.ListPorts(Context().get(), {}, &ports).ok());
    for (const auto& p : ports.ports()) {
      if (p.id() == id) last = p;
    }
    return last.id() == id && done(last);
  })) << "port "
      << id << " stats never complete: " << last.DebugString();
  return last;
}

TEST(SessionTest, TwoClientProcessesExchangeDataAndListPortsShowsCounters) {
  auto daemon = DaemonProcess::Start();
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  auto stub = (*daemon)->NewStub();
  constexpr int kMessages = 20;
  constexpr int kPayload = 64 * 1024;  // above the inline threshold: shm

  auto echo = ClientProcess::Spawn({"--address=" + (*daemon)->address(),
                                    "--name=echo-1", "--mode=echo",
                                    absl::StrCat("--messages=", kMessages)});
  ASSERT_TRUE(echo.ok()) << echo.status();
  auto line = echo->ReadLine(absl::Seconds(30));
  ASSERT_TRUE(line.ok()) << line.status();
  ASSERT_THAT(*line, HasSubstr("registered"));

  auto sender = ClientProcess::Spawn(
      {"--address=" + (*daemon)->address(), "--name=sender-1", "--mode=send",
       "--peer=echo-1", absl::StrCat("--messages=", kMessages),
       absl::StrCat("--payload=", kPayload)});
  ASSERT_TRUE(sender.ok()) << sender.status();
  ASSERT_TRUE(sender->ReadLine(absl::Seconds(30)).ok());  // registered
  line = sender->ReadLine(absl::Seconds(60));
  ASSERT_TRUE(line.ok()) << line.status();
  ASSERT_THAT(*line, HasSubstr(absl::StrCat("sent ", kMessages, " port ")));
  const uint64_t port_id = std::stoull(line->substr(line->rfind(' ') + 1));
  line = echo->ReadLine(absl::Seconds(60));
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(*line, absl::StrCat("echoed ", kMessages));

  const uint64_t bytes = static_cast<uint64_t>(kMessages) * kPayload;
  v1::PortInfo port =
      AwaitPortStats(*stub, port_id, [&](const v1::PortInfo& p) {
        return p.a().stats().messages_received() == kMessages &&
               p.b().stats().messages_sent() == kMessages &&
               p.a().stats().chunks_in_use() == 0 &&
               p.b().stats().chunks_in_use() == 0;
      });
  EXPECT_EQ(port.a().name(), "sender-1");  // the opener is end a
  EXPECT_EQ(port.b().name(), "echo-1");
  EXPECT_EQ(port.a().stats().messages_sent(), kMessages);
  EXPECT_EQ(port.a().stats().bytes_sent(), bytes);
  EXPECT_EQ(port.a().stats().bytes_received(), bytes);
  EXPECT_EQ(port.b().stats().messages_received(), kMessages);
  EXPECT_EQ(port.b().stats().bytes_received(), bytes);
  EXPECT_EQ(port.b().stats().bytes_sent(), bytes);
  EXPECT_GE(port.a().stats().segments_out(), 1u);  // it went through shm
  EXPECT_GE(port.b().stats().segments_in(), 1u);
  EXPECT_EQ(port.a().stats().protocol_errors(), 0u);
  // Descriptors travelled through the ring, not one syscall per message.
  EXPECT_GT(port.a().stats().sent_via_ring(), 0u);
  EXPECT_GT(port.a().stats().updated_at_unix_ms(), 0);

  // GetStats shows the same port.
  v1::GetStatsResponse stats;
  ASSERT_TRUE(stub->GetStats(Context().get(), {}, &stats).ok());
  ASSERT_EQ(stats.ports_size(), 1);
  EXPECT_EQ(stats.ports(0).a().stats().bytes_sent(), bytes);
  EXPECT_EQ(stats.daemon().processes(), 2u);

  auto code = sender->Finish(absl::Seconds(30));
  EXPECT_TRUE(code.ok() && *code == 0) << code.status();
  code = echo->Finish(absl::Seconds(30));
  EXPECT_TRUE(code.ok() && *code == 0) << code.status();
}

TEST(SessionTest, OpenPortByNameAndAcceptPortGiveReadyPorts) {
  auto daemon = DaemonProcess::Start();
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  auto a = Session::Connect(Options(**daemon, "in-proc-a"));
  auto b = Session::Connect(Options(**daemon, "in-proc-b"));
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  // OpenPort returns only after the HELLO exchange, although b has not
  // called AcceptPort yet: b's link thread answered the HELLO.
  auto pa = (*a)->OpenPort("in-proc-b");
  ASSERT_TRUE(pa.ok()) << pa.status();
  EXPECT_EQ((*pa)->peer().name, "in-proc-b");
  EXPECT_EQ((*pa)->peer().process_id, (*b)->process_id());
  auto pb = (*b)->AcceptPort(absl::Seconds(10));
  ASSERT_TRUE(pb.ok()) << pb.status();
  EXPECT_EQ((*pb)->port_id(), (*pa)->port_id());
  EXPECT_EQ((*pb)->peer().name, "in-proc-a");

  const std::string text = "hello over shmport";
  ASSERT_TRUE(
      (*pa)
          ->SendCopy(1, absl::MakeConstSpan(
                            reinterpret_cast<const uint8_t*>(text.data()),
                            text.size()))
          .ok());
  auto m = (*pb)->Receive(absl::Seconds(10));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->ToString(), text);
}

TEST(SessionTest, APortAnOperatorOpensIsAcceptedAtBothEnds) {
  auto daemon = DaemonProcess::Start();
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  auto a = Session::Connect(Options(**daemon, "op-a"));
  auto b = Session::Connect(Options(**daemon, "op-b"));
  ASSERT_TRUE(a.ok() && b.ok());
  auto token = (*daemon)->AdminToken();
  ASSERT_TRUE(token.ok()) << token.status();
  v1::OpenPortRequest request;
  request.mutable_from()->set_name("op-a");
  request.mutable_to()->set_name("op-b");
  v1::OpenPortResponse response;
  grpc::ClientContext context;
  context.AddMetadata("x-shmport-admin-token", *token);
  ASSERT_TRUE(
      (*daemon)->NewStub()->OpenPort(&context, request, &response).ok());
  // Neither process asked: both take the port with AcceptPort.
  auto pa = (*a)->AcceptPort(absl::Seconds(10));
  auto pb = (*b)->AcceptPort(absl::Seconds(10));
  ASSERT_TRUE(pa.ok()) << pa.status();
  ASSERT_TRUE(pb.ok()) << pb.status();
  EXPECT_EQ((*pa)->port_id(), response.port_id());
  EXPECT_EQ((*pb)->peer().name, "op-a");
  ASSERT_TRUE((*pa)->SendCopy(1, std::vector<uint8_t>(5000, 3)).ok());
  auto m = (*pb)->Receive(absl::Seconds(10));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->ToString(), std::string(5000, 3));
}

// Issue 11: each end reports the shared memory it owns, mapped and resident.
TEST(SessionTest, ListPortsShowsMappedAndResidentBytesOfEachEnd) {
  auto daemon = DaemonProcess::Start();
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  auto stub = (*daemon)->NewStub();
  auto a = Session::Connect(Options(**daemon, "memory-a"));
  auto b = Session::Connect(Options(**daemon, "memory-b"));
  ASSERT_TRUE(a.ok() && b.ok());
  auto pa = (*a)->OpenPort("memory-b");
  ASSERT_TRUE(pa.ok()) << pa.status();
  auto pb = (*b)->AcceptPort(absl::Seconds(10));
  ASSERT_TRUE(pb.ok()) << pb.status();
  const std::vector<uint8_t> bytes(1 << 20, 3);
  ASSERT_TRUE((*pa)->SendCopy(1, bytes).ok());
  auto m = (*pb)->Receive(absl::Seconds(10));
  ASSERT_TRUE(m.ok()) << m.status();
  const v1::PortInfo info =
      AwaitPortStats(*stub, (*pa)->port_id(), [&](const v1::PortInfo& p) {
        return p.a().stats().resident_bytes() >= bytes.size() &&
               p.b().stats().updated_at_unix_ms() != 0;
      });
  const v1::PortEndStats& sa = info.a().stats();
  EXPECT_EQ(sa.mapped_bytes(), 8192 + 16ull * 1024 * 1024);  // one segment
  EXPECT_LE(sa.resident_bytes(), sa.mapped_bytes());
  EXPECT_EQ(info.b().stats().mapped_bytes(), 0u);  // b sent nothing
}

// Each Session reports the ports it closed with its stats push; once both
// ends have, the daemon forgets the port (PORT_CLOSED "closed at both
// ends"). The processes stay registered.
TEST(SessionTest, APortClosedAtBothEndsLeavesTheRegistry) {
  auto daemon = DaemonProcess::Start();
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  auto stub = (*daemon)->NewStub();
  auto a = Session::Connect(Options(**daemon, "closing-a"));
  auto b = Session::Connect(Options(**daemon, "closing-b"));
  ASSERT_TRUE(a.ok() && b.ok());
  auto pa = (*a)->OpenPort("closing-b");
  ASSERT_TRUE(pa.ok()) << pa.status();
  auto pb = (*b)->AcceptPort(absl::Seconds(10));
  ASSERT_TRUE(pb.ok()) << pb.status();
  v1::ListPortsResponse ports;
  ASSERT_TRUE(stub->ListPorts(Context().get(), {}, &ports).ok());
  ASSERT_EQ(ports.ports_size(), 1);

  (*pa)->Close();
  pb->reset();  // destroying a Port closes it too
  grpc::Status listed;
  const bool closed = Eventually([&] {
    ports.Clear();
    listed = stub->ListPorts(Context().get(), {}, &ports);
    return !listed.ok() || ports.ports_size() == 0;
  });
  ASSERT_TRUE(listed.ok()) << listed.error_message();
  EXPECT_TRUE(closed) << ports.DebugString();
  v1::ListProcessesResponse processes;
  ASSERT_TRUE(stub->ListProcesses(Context().get(), {}, &processes).ok());
  EXPECT_EQ(processes.processes_size(), 2);
  for (const v1::ProcessInfo& p : processes.processes()) {
    EXPECT_EQ(p.port_count(), 0u) << p.name();
  }
}

TEST(SessionTest, OpenPortByIdWorks) {
  auto daemon = DaemonProcess::Start();
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  auto a = Session::Connect(Options(**daemon, "by-id-a"));
  auto b = Session::Connect(Options(**daemon, "by-id-b"));
  ASSERT_TRUE(a.ok() && b.ok());
  auto port = (*a)->OpenPort(absl::StrCat((*b)->process_id()));
  ASSERT_TRUE(port.ok()) << port.status();
  EXPECT_EQ((*port)->peer().name, "by-id-b");
}

TEST(SessionTest, OpenPortGeometryRequestIsGranted) {
  auto daemon = DaemonProcess::Start();
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  auto a = Session::Connect(Options(**daemon, "geo-a"));
  auto b = Session::Connect(Options(**daemon, "geo-b"));
  ASSERT_TRUE(a.ok() && b.ok());
  auto port = (*a)->OpenPort("geo-b", {.chunk_size = 4096, .chunk_count = 16});
  ASSERT_TRUE(port.ok()) << port.status();
  EXPECT_EQ((*port)->peer_geometry().chunk_size, 4096u);
  EXPECT_EQ((*port)->peer_geometry().chunk_count, 16u);
}

TEST(SessionTest, SessionErrorsCarryTheDaemonsCodeAndMessage) {
  auto daemon = DaemonProcess::Start();
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  auto a = Session::Connect(Options(**daemon, "err-a"));
  ASSERT_TRUE(a.ok()) << a.status();
  auto taken = Session::Connect(Options(**daemon, "err-a"));
  EXPECT_EQ(taken.status().code(), absl::StatusCode::kAlreadyExists);
  auto bad = Session::Connect(Options(**daemon, "bad name"));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  auto port = (*a)->OpenPort("err-missing");
  EXPECT_EQ(port.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(port.status().message(), HasSubstr("'err-missing'"));
  port = (*a)->OpenPort("err-a");
  EXPECT_EQ(port.status().code(), absl::StatusCode::kInvalidArgument);
  auto accepted = (*a)->AcceptPort(absl::Milliseconds(50));
  EXPECT_EQ(accepted.status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(SessionTest, OpenPortWaitsForAPeerThatIsStillStarting) {
  auto daemon = DaemonProcess::Start();
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  auto stub = (*daemon)->NewStub();
  auto a = Session::Connect(Options(**daemon, "waiter"));
  ASSERT_TRUE(a.ok()) << a.status();

  // Registered, not attached: without wait_for_peer the answer is at once.
  auto starting = RegisterOnly(*stub, "starting-peer");
  ASSERT_TRUE(starting.ok()) << starting.status();
  auto port = (*a)->OpenPort("starting-peer");
  EXPECT_EQ(port.status().code(), absl::StatusCode::kFailedPrecondition);
  // With it, the same answer only once the wait is over (less the last
  // backoff step of at most 100 ms).
  const absl::Time start = absl::Now();
  port = (*a)->OpenPort("starting-peer",
                        {.wait_for_peer = absl::Milliseconds(300)});
  EXPECT_EQ(port.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(200));

  // A peer that registers after the opener asked: the open succeeds.
  absl::StatusOr<std::unique_ptr<Port>> late;
  std::thread opener([&] {
    late = (*a)->OpenPort("late-echo", {.wait_for_peer = absl::Seconds(30)});
  });
  auto echo =
      ClientProcess::Spawn({"--address=" + (*daemon)->address(),
                            "--name=late-echo", "--mode=echo", "--messages=1"});
  opener.join();
  ASSERT_TRUE(echo.ok()) << echo.status();
  ASSERT_TRUE(late.ok()) << late.status();
  EXPECT_EQ((*late)->peer().name, "late-echo");
  const std::string text = "are you there";
  ASSERT_TRUE(
      (*late)
          ->SendCopy(1, absl::MakeConstSpan(
                            reinterpret_cast<const uint8_t*>(text.data()),
                            text.size()))
          .ok());
  auto reply = (*late)->Receive(absl::Seconds(30));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->ToString(), text);
  auto code = echo->Finish(absl::Seconds(30));
  EXPECT_TRUE(code.ok() && *code == 0) << code.status();
}

TEST(SessionTest, ConnectWithoutDaemonIsUnavailable) {
  SessionOptions o;
  o.name = "lonely";
  o.address = absl::StrCat("unix:/tmp/shmport-none-", ::getpid(), "/c.sock");
  o.rpc_timeout = absl::Seconds(5);
  auto s = Session::Connect(o);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable) << s.status();
}

TEST(SessionTest, UnregisterEndsTheRegistrationAndLaterCallsFail) {
  auto daemon = DaemonProcess::Start();
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  auto stub = (*daemon)->NewStub();
  auto a = Session::Connect(Options(**daemon, "leaver"));
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE((*a)->Unregister().ok());
  v1::ListProcessesResponse processes;
  ASSERT_TRUE(stub->ListProcesses(Context().get(), {}, &processes).ok());
  EXPECT_EQ(processes.processes_size(), 0);
  EXPECT_EQ((*a)->OpenPort("anyone").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE((*a)->Unregister().ok());  // idempotent
}

TEST(SessionTest, WatchThroughSessionSeesAPortOpen) {
  auto daemon = DaemonProcess::Start();
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  auto a = Session::Connect(Options(**daemon, "watch-a"));
  auto b = Session::Connect(Options(**daemon, "watch-b"));
  ASSERT_TRUE(a.ok() && b.ok());
  auto watch = (*a)->core().Watch(/*include_existing=*/true);
  ASSERT_TRUE(watch.ok()) << watch.status();
  // The snapshot (two processes) proves the stream is live before we act.
  for (int i = 0; i < 2; ++i) {
    auto e = (*watch)->Next();
    ASSERT_TRUE(e.ok() && e->has_value()) << e.status();
    EXPECT_EQ((**e).kind(), v1::Event::PROCESS_REGISTERED);
  }
  auto port = (*a)->OpenPort("watch-b");
  ASSERT_TRUE(port.ok()) << port.status();
  auto e = (*watch)->Next();
  ASSERT_TRUE(e.ok() && e->has_value()) << e.status();
  EXPECT_EQ((**e).kind(), v1::Event::PORT_OPENED);
  EXPECT_EQ((**e).port().id(), (*port)->port_id());
  (*watch)->Cancel();
  e = (*watch)->Next();
  EXPECT_EQ(e.status().code(), absl::StatusCode::kCancelled);
}

TEST(SessionTest, DaemonRestartKeepsPortsWorkingAndReconnectRegistersAgain) {
  char tmpl[] = "/tmp/shmport-rXXXXXX";  // pids repeat across test sandboxes
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  auto daemon = DaemonProcess::Start({.directory = dir});
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  auto a = Session::Connect(Options(**daemon, "restart-a"));
  auto b = Session::Connect(Options(**daemon, "restart-b"));
  ASSERT_TRUE(a.ok() && b.ok());
  auto pa = (*a)->OpenPort("restart-b");
  ASSERT_TRUE(pa.ok()) << pa.status();
  auto pb = (*b)->AcceptPort(absl::Seconds(10));
  ASSERT_TRUE(pb.ok()) << pb.status();

  auto code = (*daemon)->Stop();
  ASSERT_TRUE(code.ok() && *code == 0) << code.status();
  daemon->reset();

  // Control calls now fail with UNAVAILABLE...
  EXPECT_EQ((*a)->OpenPort("restart-b").status().code(),
            absl::StatusCode::kUnavailable);
  // ...while the data plane carries on without the daemon.
  const uint8_t bytes[] = {1, 2, 3};
  ASSERT_TRUE((*pa)->SendCopy(7, bytes).ok());
  auto m = (*pb)->Receive(absl::Seconds(10));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->stream(), 7u);

  // A new daemon on the same address; both sessions register again.
  auto again = DaemonProcess::Start({.directory = dir});
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_TRUE((*a)->Reconnect().ok());
  ASSERT_TRUE((*b)->Reconnect().ok());
  EXPECT_TRUE((*a)->health().ok());
  auto fresh = (*a)->OpenPort("restart-b");
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  ASSERT_TRUE((*pa)->SendCopy(8, bytes).ok());  // the old port still works
  m = (*pb)->Receive(absl::Seconds(10));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->stream(), 8u);
  again->reset();
  ::rmdir(dir.c_str());
}

}  // namespace
}  // namespace shmport::testing
