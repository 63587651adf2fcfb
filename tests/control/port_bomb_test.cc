// Issue 11, hole 5 (port bombs): a process that opens ports to another
// without end, or opens and at once closes its own end, must not drive
// its victim to the fd limit nor fill the victim's port quota, and a
// legitimate opener must still get through while the attack runs.
#include <unistd.h>

#include <memory>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/control/client_process.h"
#include "tests/control/daemon_process.h"
#include "tests/control/raw_client.h"
#include "tests/util/eventually.h"
#include "tests/util/process_census.h"

namespace shmport::testing {
namespace {

using ::testing::HasSubstr;

constexpr int kPerPair = 8;
constexpr int kIncoming = 24;
constexpr absl::Duration kBound = absl::Seconds(10);

class PortBombTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto daemon = DaemonProcess::Start(
        {.config_text = absl::StrCat(
             "limits { max_ports_per_pair: ", kPerPair,
             " max_incoming_ports_per_process: ", kIncoming, " }")});
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = *std::move(daemon);
    stub_ = daemon_->NewStub();
    // The victim: a real Session, which holds an fd for every port handed
    // to it until it accepts the port or the daemon says it closed.
    auto router = ClientProcess::Spawn(
        {"--address=" + daemon_->address(), "--name=router", "--mode=idle"});
    ASSERT_TRUE(router.ok()) << router.status();
    router_ = std::make_unique<ClientProcess>(*std::move(router));
    auto line = router_->ReadLine(kBound);
    ASSERT_TRUE(line.ok()) << line.status();
    ASSERT_THAT(*line, HasSubstr("registered"));
    router_fds_ = CountOpenFds(router_->pid());
    ASSERT_GT(router_fds_, 0);
  }

  RawRegistration Attached(const std::string& name) {
    auto r = RegisterAndAttach(*stub_, name);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *std::move(r) : RawRegistration{};
  }

  int RouterPorts() {
    v1::ListPortsRequest request;
    request.set_process_id(RouterId());
    v1::ListPortsResponse ports;
    EXPECT_TRUE(stub_->ListPorts(Context().get(), request, &ports).ok());
    return ports.ports_size();
  }

  uint64_t RouterId() {
    v1::ListProcessesResponse listed;
    EXPECT_TRUE(stub_->ListProcesses(Context().get(), {}, &listed).ok());
    for (const auto& p : listed.processes()) {
      if (p.name() == "router") return p.id();
    }
    return 0;
  }

  // Opens ports from `from` to the router until the daemon refuses one;
  // keeps each port's fd. Returns the refusal.
  grpc::Status OpenUntilRefused(RawRegistration& from, int* opened,
                                std::vector<UniqueFd>* held) {
    for (int i = 0; i < 4 * kIncoming; ++i) {
      v1::OpenPortResponse response;
      grpc::Status s = OpenPortByName(*stub_, from, "router", &response);
      if (!s.ok()) return s;
      ++*opened;
      auto notice = NextNotice(from.link, kBound);
      EXPECT_TRUE(notice.ok()) << notice.status();
      if (notice.ok()) held->push_back(std::move(notice->fd));
    }
    return grpc::Status::OK;
  }

  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<v1::ControlPlane::Stub> stub_;
  std::unique_ptr<ClientProcess> router_;
  int router_fds_ = 0;
};

TEST_F(PortBombTest, OneOpenerIsStoppedAtThePairLimitAndAWorkerGetsThrough) {
  RawRegistration attacker = Attached("attacker");
  int opened = 0;
  std::vector<UniqueFd> held;
  const grpc::Status refused = OpenUntilRefused(attacker, &opened, &held);
  EXPECT_EQ(opened, kPerPair);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(refused.error_message(), HasSubstr("limits.max_ports_per_pair"));
  EXPECT_THAT(refused.error_message(), HasSubstr("'router'"));

  RawRegistration worker = Attached("worker");
  v1::OpenPortResponse response;
  const grpc::Status s = OpenPortByName(*stub_, worker, "router", &response);
  EXPECT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(RouterPorts(), kPerPair + 1);
  // The router holds one fd per port handed to it, no more.
  EXPECT_TRUE(Eventually([&] {
    return CountOpenFds(router_->pid()) == router_fds_ + kPerPair + 1;
  })) << CountOpenFds(router_->pid())
      << " fds, " << router_fds_ << " before the attack";
}

TEST_F(PortBombTest, ManyOpenersAreStoppedAtTheVictimsIncomingLimit) {
  std::vector<RawRegistration> attackers;
  std::vector<UniqueFd> held;
  int opened = 0;
  grpc::Status refused;
  for (int i = 0; refused.ok() && i < 2 * kIncoming / kPerPair; ++i) {
    attackers.push_back(Attached(absl::StrCat("attacker-", i)));
    const grpc::Status s = OpenUntilRefused(attackers.back(), &opened, &held);
    if (!absl::StrContains(s.error_message(), "max_ports_per_pair")) {
      refused = s;
    }
  }
  EXPECT_EQ(opened, kIncoming);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(refused.error_message(),
              HasSubstr("limits.max_incoming_ports_per_process"));
  EXPECT_EQ(RouterPorts(), kIncoming);
  EXPECT_LE(CountOpenFds(router_->pid()), router_fds_ + kIncoming);
}

// The attacker closes its end at once and says so (StatsReport): the
// daemon forgets the port on that one report and tells the router, which
// lets go of its fd. Hundreds of rounds never fill the pair's quota.
TEST_F(PortBombTest, OpenAndCloseAtOnceLeavesNothingBehindAtTheVictim) {
  RawRegistration attacker = Attached("attacker");
  RawRegistration worker = Attached("worker");
  constexpr int kRounds = 200;
  for (int i = 0; i < kRounds; ++i) {
    v1::OpenPortResponse response;
    const grpc::Status s =
        OpenPortByName(*stub_, attacker, "router", &response);
    ASSERT_TRUE(s.ok()) << "round " << i << ": " << Describe(s);
    auto notice = NextNotice(attacker.link, kBound);
    ASSERT_TRUE(notice.ok()) << notice.status();
    notice->fd.Reset();
    v1::BrokerFrame closed;
    closed.mutable_stats_report()->add_closed_port_ids(response.port_id());
    ASSERT_TRUE(attacker.link.Send(closed).ok());
    // Forgotten on that one report (the router never reports a port it
    // did not accept).
    const int worker_ports = i > kRounds / 2 ? 1 : 0;
    ASSERT_TRUE(Eventually([&] { return RouterPorts() == worker_ports; }))
        << "round " << i << ": " << RouterPorts() << " router ports";
    if (i == kRounds / 2) {
      v1::OpenPortResponse legit;
      const grpc::Status w = OpenPortByName(*stub_, worker, "router", &legit);
      EXPECT_TRUE(w.ok()) << Describe(w);
    }
  }
  // Only the worker's port stays, and the router holds only its fd.
  EXPECT_EQ(RouterPorts(), 1);
  EXPECT_TRUE(Eventually([&] {
    return CountOpenFds(router_->pid()) == router_fds_ + 1;
  })) << CountOpenFds(router_->pid())
      << " fds, " << router_fds_ << " before the attack";
}

}  // namespace
}  // namespace shmport::testing
