// Acceptance 3: attach checks the kernel's credentials, unattached
// registrations expire, and a killed process vanishes, event-driven, with
// its peers told (PORT_CLOSED notice, EOF on the port).
#include <signal.h>
#include <unistd.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/control/client_process.h"
#include "tests/control/daemon_process.h"
#include "tests/control/raw_client.h"
#include "tests/util/child_process.h"
#include "tests/util/eventually.h"
#include "tests/util/fd_wait.h"

namespace shmport::testing {
namespace {

using ::testing::HasSubstr;

bool Listed(v1::ControlPlane::Stub& stub, uint64_t id) {
  v1::ListProcessesResponse response;
  EXPECT_TRUE(stub.ListProcesses(Context().get(), {}, &response).ok());
  for (const auto& p : response.processes()) {
    if (p.id() == id) return true;
  }
  return false;
}

v1::DaemonStats Stats(v1::ControlPlane::Stub& stub) {
  v1::GetStatsResponse response;
  EXPECT_TRUE(stub.GetStats(Context().get(), {}, &response).ok());
  return response.daemon();
}

TEST(LivenessTest, TokenPresentedFromAnotherProcessIsRefused) {
  auto daemon = DaemonProcess::Start();
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  auto stub = (*daemon)->NewStub();
  auto r = RegisterOnly(*stub, "token-owner");
  ASSERT_TRUE(r.ok()) << r.status();

  // A child (another pid) presents the stolen token: refused by pid.
  ChildProcess thief = ChildProcess::Fork([&] {
    auto link = BrokerLink::Attach(r->broker_address, r->id, r->token,
                                   absl::Seconds(10));
    if (link.ok()) return 2;
    if (link.status().code() != absl::StatusCode::kPermissionDenied) return 3;
    const std::string want = absl::StrCat("comes from pid ", ::getpid());
    return absl::StrContains(link.status().message(), want) ? 0 : 4;
  });
  EXPECT_EQ(thief.Wait(), "exit 0");
  EXPECT_EQ(Stats(*stub).attach_refused(), 1u);

  // The rightful process still attaches.
  auto link =
      BrokerLink::Attach(r->broker_address, r->id, r->token, absl::Seconds(10));
  EXPECT_TRUE(link.ok()) << link.status();
}

TEST(LivenessTest, WrongTokenIsRefusedAndSecondAttachIsRefused) {
  auto daemon = DaemonProcess::Start();
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  auto stub = (*daemon)->NewStub();
  auto r = RegisterOnly(*stub, "guarded");
  ASSERT_TRUE(r.ok()) << r.status();
  auto bad =
      BrokerLink::Attach(r->broker_address, r->id, "0123", absl::Seconds(10));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(bad.status().message(), HasSubstr("does not match"));
  auto good =
      BrokerLink::Attach(r->broker_address, r->id, r->token, absl::Seconds(10));
  ASSERT_TRUE(good.ok()) << good.status();
  auto again =
      BrokerLink::Attach(r->broker_address, r->id, r->token, absl::Seconds(10));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(again.status().message(), HasSubstr("already attached"));
}

TEST(LivenessTest, RegistrationThatNeverAttachesExpires) {
  auto daemon = DaemonProcess::Start({.config_text = "attach_timeout_ms: 200"});
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  auto stub = (*daemon)->NewStub();
  auto r = RegisterOnly(*stub, "never-attaches");
  ASSERT_TRUE(r.ok()) << r.status();
  // The daemon's timerfd ends it; watch for that with a bounded poll.
  EXPECT_TRUE(Eventually([&] { return !Listed(*stub, r->id); }))
      << "registration " << r->id << " is still listed";
  EXPECT_EQ(Stats(*stub).registrations_expired(), 1u);
  // The name is free again, and the old token is worthless.
  EXPECT_TRUE(RegisterOnly(*stub, "never-attaches").ok());
  auto late =
      BrokerLink::Attach(r->broker_address, r->id, r->token, absl::Seconds(10));
  EXPECT_EQ(late.status().code(), absl::StatusCode::kNotFound);
}

TEST(LivenessTest, SigkilledProcessVanishesAndItsPeerIsTold) {
  auto daemon = DaemonProcess::Start();
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  auto stub = (*daemon)->NewStub();

  auto victim = ClientProcess::Spawn(
      {"--address=" + (*daemon)->address(), "--name=victim", "--mode=idle"});
  ASSERT_TRUE(victim.ok()) << victim.status();
  auto line = victim->ReadLine(absl::Seconds(30));
  ASSERT_TRUE(line.ok()) << line.status();
  ASSERT_THAT(*line, HasSubstr("registered "));
  uint64_t victim_id = std::stoull(line->substr(strlen("registered ")));

  auto survivor = RegisterAndAttach(*stub, "survivor");
  ASSERT_TRUE(survivor.ok()) << survivor.status();

  grpc::ClientContext watch_context;
  v1::WatchEventsRequest watch_request;
  watch_request.set_include_existing(true);
  auto watch = stub->WatchEvents(&watch_context, watch_request);
  // The snapshot (victim, survivor) proves the stream is live.
  v1::Event snapshot;
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(watch->Read(&snapshot));

  v1::OpenPortResponse opened;
  ASSERT_TRUE(OpenPortByName(*stub, *survivor, "victim", &opened).ok());
  auto notice = NextNotice(survivor->link, absl::Seconds(10));
  ASSERT_TRUE(notice.ok()) << notice.status();
  ASSERT_TRUE(notice->frame.has_port_opened());
  UniqueFd port_end = std::move(notice->fd);

  const absl::Time killed_at = absl::Now();
  victim->Kill(SIGKILL);

  // The survivor's broker link says the port closed, and why.
  auto closed = NextNotice(survivor->link, absl::Seconds(10));
  ASSERT_TRUE(closed.ok()) << closed.status();
  ASSERT_TRUE(closed->frame.has_port_closed());
  EXPECT_EQ(closed->frame.port_closed().port_id(), opened.port_id());
  EXPECT_THAT(closed->frame.port_closed().reason(), HasSubstr("'victim'"));
  const absl::Duration notice_latency = absl::Now() - killed_at;

  // Watchers see the port close, then the process exit.
  v1::Event event;
  std::vector<v1::Event::Kind> kinds;
  while (watch->Read(&event)) {
    kinds.push_back(event.kind());
    if (event.kind() == v1::Event::PROCESS_EXITED) break;
  }
  ASSERT_FALSE(kinds.empty());
  EXPECT_EQ(kinds.back(), v1::Event::PROCESS_EXITED);
  EXPECT_EQ(event.process().id(), victim_id);
  ASSERT_GE(kinds.size(), 2u);
  EXPECT_EQ(kinds[kinds.size() - 2], v1::Event::PORT_CLOSED);
  EXPECT_FALSE(Listed(*stub, victim_id));

  // The port itself reports EOF (after the HELLO the victim may have sent).
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  ssize_t n = 1;
  char buffer[256];
  while (n > 0 && absl::Now() < deadline) {
    ASSERT_TRUE(WaitReadable(port_end.get(), absl::Now() + absl::Seconds(10)));
    n = ::recv(port_end.get(), buffer, sizeof(buffer), MSG_DONTWAIT);
  }
  EXPECT_EQ(n, 0) << "expected EOF on the dead peer's port";

  ::testing::Test::RecordProperty(
      "kill_to_port_closed_us",
      static_cast<int>(absl::ToInt64Microseconds(notice_latency)));
  std::printf("SIGKILL -> PORT_CLOSED notice: %s\n",
              absl::FormatDuration(notice_latency).c_str());
  watch_context.TryCancel();
}

TEST(LivenessTest, ClosingTheBrokerLinkEndsTheRegistration) {
  auto daemon = DaemonProcess::Start();
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  auto stub = (*daemon)->NewStub();
  auto a = RegisterAndAttach(*stub, "link-closer");
  auto b = RegisterAndAttach(*stub, "link-peer");
  ASSERT_TRUE(a.ok() && b.ok());
  v1::OpenPortResponse opened;
  ASSERT_TRUE(OpenPortByName(*stub, *a, "link-peer", &opened).ok());
  ASSERT_TRUE(NextNotice(b->link, absl::Seconds(10)).ok());  // PortOpened
  a->link.Close();
  auto closed = NextNotice(b->link, absl::Seconds(10));
  ASSERT_TRUE(closed.ok()) << closed.status();
  EXPECT_THAT(closed->frame.port_closed().reason(),
              HasSubstr("broker link closed"));
  EXPECT_FALSE(Listed(*stub, a->id));
  EXPECT_TRUE(Listed(*stub, b->id));
}

}  // namespace
}  // namespace shmport::testing
