// Acceptance 4: WatchEvents delivers register/exit/open/close in order to
// several watchers, and a watcher that does not keep up is dropped (with
// a counter) without slowing the daemon or the other watchers.
#include <unistd.h>

#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "gtest/gtest.h"
#include "tests/control/daemon_process.h"
#include "tests/control/raw_client.h"
#include "tests/util/eventually.h"

namespace shmport::testing {
namespace {

using ::testing::ElementsAre;

// A WatchEvents stream read on the test thread.
struct Watcher {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<v1::Event>> reader;
};

std::unique_ptr<Watcher> StartWatch(v1::ControlPlane::Stub& stub,
                                    bool include_existing = false) {
  auto w = std::make_unique<Watcher>();
  v1::WatchEventsRequest request;
  request.set_include_existing(include_existing);
  w->reader = stub.WatchEvents(&w->context, request);
  return w;
}

// Waits (bounded) until the daemon counts `n` watchers: subscription is
// asynchronous to the client's call.
void AwaitWatchers(v1::ControlPlane::Stub& stub, uint32_t n) {
  grpc::Status rpc;
  const bool counted = Eventually([&] {
    v1::GetStatsResponse stats;
    rpc = stub.GetStats(Context().get(), {}, &stats);
    return !rpc.ok() || stats.daemon().watchers() == n;
  });
  ASSERT_TRUE(rpc.ok()) << rpc.error_message();
  ASSERT_TRUE(counted) << "the daemon never counted " << n << " watchers";
}

// Reads and discards every notice waiting on `link` (PortOpened fds close).
void Drain(BrokerLink& link) {
  while (true) {
    auto notice = link.Receive();
    ASSERT_TRUE(notice.ok()) << notice.status();
    if (!notice->has_value()) return;
  }
}

TEST(WatchTest, SeveralWatchersSeeRegisterOpenCloseExitInOrder) {
  auto daemon = DaemonProcess::Start();
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  auto stub = (*daemon)->NewStub();
  std::vector<std::unique_ptr<Watcher>> watchers;
  for (int i = 0; i < 3; ++i) watchers.push_back(StartWatch(*stub));
  AwaitWatchers(*stub, 3);

  auto a = RegisterAndAttach(*stub, "order-a");
  auto b = RegisterAndAttach(*stub, "order-b");
  ASSERT_TRUE(a.ok() && b.ok());
  v1::OpenPortResponse opened;
  ASSERT_TRUE(OpenPortByName(*stub, *a, "order-b", &opened).ok());
  v1::ClosePortRequest close;
  close.set_port_id(opened.port_id());
  close.set_session_token(a->token);
  v1::ClosePortResponse closed;
  ASSERT_TRUE(stub->ClosePort(Context().get(), close, &closed).ok());
  v1::UnregisterRequest unregister;
  unregister.set_process_id(a->id);
  unregister.set_session_token(a->token);
  v1::UnregisterResponse unregistered;
  ASSERT_TRUE(
      stub->Unregister(Context().get(), unregister, &unregistered).ok());
  b->link.Close();  // ends b by EOF

  for (auto& w : watchers) {
    std::vector<v1::Event> events(6);
    for (v1::Event& e : events) ASSERT_TRUE(w->reader->Read(&e));
    std::vector<v1::Event::Kind> kinds;
    for (const v1::Event& e : events) kinds.push_back(e.kind());
    EXPECT_THAT(
        kinds, ElementsAre(
                   v1::Event::PROCESS_REGISTERED, v1::Event::PROCESS_REGISTERED,
                   v1::Event::PORT_OPENED, v1::Event::PORT_CLOSED,
                   v1::Event::PROCESS_EXITED, v1::Event::PROCESS_EXITED));
    for (size_t i = 1; i < events.size(); ++i) {
      EXPECT_EQ(events[i].sequence(), events[i - 1].sequence() + 1);
    }
    EXPECT_EQ(events[0].process().name(), "order-a");
    EXPECT_EQ(events[1].process().name(), "order-b");
    EXPECT_EQ(events[2].port().id(), opened.port_id());
    EXPECT_EQ(events[3].reason(),
              absl::StrCat("port ", opened.port_id(),
                           " closed by 'order-a' (id ", a->id, ")"));
    EXPECT_EQ(events[4].process().id(), a->id);
    EXPECT_EQ(events[4].reason(), "unregistered");
    EXPECT_EQ(events[5].process().id(), b->id);
    EXPECT_EQ(events[5].reason(), "broker link closed");
    w->context.TryCancel();
  }
}

TEST(WatchTest, IncludeExistingSendsTheCurrentStateFirst) {
  auto daemon = DaemonProcess::Start();
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  auto stub = (*daemon)->NewStub();
  auto a = RegisterAndAttach(*stub, "existing-a");
  auto b = RegisterAndAttach(*stub, "existing-b");
  ASSERT_TRUE(a.ok() && b.ok());
  v1::OpenPortResponse opened;
  ASSERT_TRUE(OpenPortByName(*stub, *a, "existing-b", &opened).ok());

  auto w = StartWatch(*stub, /*include_existing=*/true);
  v1::Event e;
  ASSERT_TRUE(w->reader->Read(&e));
  EXPECT_EQ(e.kind(), v1::Event::PROCESS_REGISTERED);
  EXPECT_EQ(e.process().name(), "existing-a");
  EXPECT_EQ(e.sequence(), 0u);
  ASSERT_TRUE(w->reader->Read(&e));
  EXPECT_EQ(e.process().name(), "existing-b");
  ASSERT_TRUE(w->reader->Read(&e));
  EXPECT_EQ(e.kind(), v1::Event::PORT_OPENED);
  EXPECT_EQ(e.port().id(), opened.port_id());
  EXPECT_EQ(e.sequence(), 0u);
  // Then live events continue.
  auto c = RegisterAndAttach(*stub, "existing-c");
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(w->reader->Read(&e));
  EXPECT_EQ(e.process().name(), "existing-c");
  EXPECT_GT(e.sequence(), 0u);
  w->context.TryCancel();
}

TEST(WatchTest, LaggingWatcherIsDroppedWhileOthersKeepUp) {
  auto daemon =
      DaemonProcess::Start({.config_text = "watcher_queue_limit: 16"});
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  auto stub = (*daemon)->NewStub();

  // The slow watcher never reads. Small flow-control windows make its
  // backlog reach the daemon's queue after a few hundred events instead of
  // megabytes.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 1024);
  auto slow_stub = v1::ControlPlane::NewStub(grpc::CreateCustomChannel(
      (*daemon)->address(), grpc::InsecureChannelCredentials(), args));
  auto slow = StartWatch(*slow_stub);
  auto fast = StartWatch(*stub);
  AwaitWatchers(*stub, 2);

  uint64_t fast_count = 0;
  std::thread fast_reader([&] {
    v1::Event e;
    while (fast->reader->Read(&e)) ++fast_count;
  });

  auto a = RegisterAndAttach(*stub, "churn-a");
  auto b = RegisterAndAttach(*stub, "churn-b");
  ASSERT_TRUE(a.ok() && b.ok());
  uint64_t published = 2;
  bool dropped = false;
  for (int i = 0; i < 20000 && !dropped; ++i) {
    v1::OpenPortResponse opened;
    ASSERT_TRUE(OpenPortByName(*stub, *a, "churn-b", &opened).ok());
    v1::ClosePortRequest close;
    close.set_port_id(opened.port_id());
    close.set_session_token(a->token);
    v1::ClosePortResponse closed;
    ASSERT_TRUE(stub->ClosePort(Context().get(), close, &closed).ok());
    published += 2;
    Drain(a->link);
    Drain(b->link);
    if (i % 50 == 49) {
      v1::GetStatsResponse stats;
      ASSERT_TRUE(stub->GetStats(Context().get(), {}, &stats).ok());
      dropped = stats.daemon().events_dropped() == 1;
    }
  }
  ASSERT_TRUE(dropped) << "the slow watcher was never dropped";

  // The slow watcher gets what it had been sent, then RESOURCE_EXHAUSTED.
  v1::Event e;
  uint64_t slow_count = 0;
  while (slow->reader->Read(&e)) ++slow_count;
  const grpc::Status slow_status = slow->reader->Finish();
  EXPECT_EQ(slow_status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << Describe(slow_status);
  EXPECT_LT(slow_count, published);

  // The fast watcher saw every event: end the stream by stopping the
  // daemon (watchers end OK) and count.
  auto code = (*daemon)->Stop();
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  fast_reader.join();
  EXPECT_EQ(fast_count, published);
  EXPECT_TRUE(fast->reader->Finish().ok());
}

}  // namespace
}  // namespace shmport::testing
