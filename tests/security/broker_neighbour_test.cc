// Security (issue 11, holes 3 and 9): a process of another uid that may
// connect to broker.sock cannot lock rightful processes out, neither by
// holding connections that never send Attach (a deadline, and caps per uid
// and in all, bound them) nor by flooding Attach frames with wrong tokens
// for every process id (the token is checked before anything is
// installed, so a bogus Attach cannot occupy a registration's link).
//
// Switching uid needs root, which CI has; elsewhere these tests skip.
#include <sys/socket.h>
#include <sys/un.h>

#include <cstdio>
#include <cstring>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "client/broker_link.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shmport/session.h"
#include "shmport/unique_fd.h"
#include "shmport/v1/broker.pb.h"
#include "tests/security/foreign_uid_test.h"
#include "tests/security/hostile_sockets.h"
#include "tests/util/fd_wait.h"

namespace shmport::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr absl::Duration kPendingTimeout = absl::Seconds(8);

std::string ConnectionLimits(int per_uid, int in_all) {
  return absl::StrCat("\nconnections { broker_pending_timeout_ms: ",
                      absl::ToInt64Milliseconds(kPendingTimeout),
                      " max_pending_broker_connections_per_uid: ", per_uid,
                      " max_pending_broker_connections: ", in_all, " }");
}

std::string AdmitBothPolicy() {
  return absl::StrCat("policy { ", AdmitBoth(), " }");
}

// Runs a HostileSockets command in this (root) process.
std::string Hostile(HostileSockets& sockets, const std::string& line) {
  std::istringstream in(line);
  std::string command;
  in >> command;
  return sockets.Run(command, in).value_or("unknown command");
}

using BrokerNeighbourTest = ForeignUidTest;

TEST_F(BrokerNeighbourTest, IdleConnectionsOfAnotherUidNeitherLockOutNorLast) {
  StartDaemon(AdmitBothPolicy() + ConnectionLimits(16, 64));
  SpawnForeign();
  const std::string broker = daemon_->broker_address();
  const absl::Time held_at = absl::Now();
  ASSERT_EQ(Ask("hold broker " + broker + " 40"), "ok 40 0");
  // The 24 beyond the uid's cap are refused at once, with the reason.
  EXPECT_EQ(Ask("closed 24 10000"), "ok 24 RESOURCE_EXHAUSTED=24");

  // Meanwhile this uid registers, attaches and opens a port as usual.
  RightfulPort rightful = OpenRightfulPort("rightful");
  ASSERT_NE(rightful.port, nullptr);
  const absl::Time done = absl::Now();
  EXPECT_LT(rightful.took, absl::Seconds(5));
  // ... while the attacker's 16 were all still held: none had expired.
  ASSERT_LT(done - held_at, kPendingTimeout);
  EXPECT_EQ(Ask("closed 0 0"), "ok 24 RESOURCE_EXHAUSTED=24");

  // Then the 16 idle ones are closed at their deadline, and told why.
  EXPECT_EQ(Ask("closed 40 20000"),
            "ok 40 DEADLINE_EXCEEDED=16 RESOURCE_EXHAUSTED=24");
  EXPECT_GE(absl::Now() - held_at, kPendingTimeout);
}

// What the daemon tells a connection that says nothing: the message of
// the AttachResult it sends before closing it.
std::string RefusalOfAnIdleConnection(const std::string& broker) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, broker.c_str(), sizeof(addr.sun_path) - 1);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr),
                sizeof(addr)) != 0) {
    return "connect failed";
  }
  if (!WaitReadable(fd.get(), absl::Now() + absl::Seconds(10))) {
    return "no answer";
  }
  char buffer[4096];
  const ssize_t n = ::recv(fd.get(), buffer, sizeof(buffer), 0);
  v1::BrokerFrame frame;
  if (n <= 0 || !frame.ParseFromArray(buffer, static_cast<int>(n))) {
    return "closed without an AttachResult";
  }
  return absl::StrCat(absl::StatusCodeToString(static_cast<absl::StatusCode>(
                          frame.attach_result().code())),
                      ": ", frame.attach_result().message());
}

TEST_F(BrokerNeighbourTest, AnAttachThatComesWithItsConnectionPassesAFullCap) {
  StartDaemon(AdmitBothPolicy() + ConnectionLimits(4, 64));
  HostileSockets mine;
  const std::string broker = daemon_->broker_address();
  ASSERT_EQ(Hostile(mine, "hold broker " + broker + " 4"), "ok 4 0");
  // One more idle connection of this uid is refused, naming the limit.
  EXPECT_THAT(RefusalOfAnIdleConnection(broker),
              AllOf(StartsWith("RESOURCE_EXHAUSTED: "),
                    HasSubstr("max_pending_broker_connections_per_uid = 4")));
  // A connection whose Attach is there when the daemon accepts it is not
  // idle: it attaches although the uid's idle connections fill the cap
  // (and BrokerLink::Attach retries one refused all the same).
  auto registered = RegisterOnly(*stub_, "prompt");
  ASSERT_TRUE(registered.ok()) << registered.status();
  auto link = BrokerLink::Attach(broker, registered->id, registered->token,
                                 absl::Seconds(10));
  EXPECT_TRUE(link.ok()) << link.status();
  EXPECT_EQ(Hostile(mine, "closed 0 0"), "ok 0");
}

TEST_F(BrokerNeighbourTest, TheGlobalPendingCapBoundsEveryUidTogether) {
  StartDaemon(AdmitBothPolicy() + ConnectionLimits(8, 12));
  SpawnForeign();
  const std::string broker = daemon_->broker_address();
  ASSERT_EQ(Ask("hold broker " + broker + " 8"), "ok 8 0");
  ASSERT_EQ(Ask("closed 0 0"), "ok 0");
  HostileSockets mine;
  ASSERT_EQ(Hostile(mine, "hold broker " + broker + " 8"), "ok 8 0");
  EXPECT_EQ(Hostile(mine, "closed 4 10000"), "ok 4 RESOURCE_EXHAUSTED=4");
  EXPECT_THAT(RefusalOfAnIdleConnection(broker),
              HasSubstr("max_pending_broker_connections = 12"));
  EXPECT_EQ(Ask("closed 0 0"), "ok 0");
}

// "ok <attempts> CODE=n ..." -> CODE's n (0 when absent).
int CodeCount(const std::string& answer, const std::string& code) {
  for (absl::string_view field : absl::StrSplit(answer, ' ')) {
    int n = 0;
    if (absl::ConsumePrefix(&field, code + "=") &&
        absl::SimpleAtoi(field, &n)) {
      return n;
    }
  }
  return 0;
}

TEST_F(BrokerNeighbourTest, BogusAttachFloodFailsNoRealAttach) {
  StartDaemon(AdmitBothPolicy());
  SpawnForeign();
  constexpr int kSessions = 60;
  constexpr absl::Duration kFlood = absl::Seconds(8);
  // Every id the sessions will get, and more, in turn, with wrong tokens.
  std::string flood_answer;
  const absl::Time flood_sent = absl::Now();
  std::thread flood([&] {
    absl::StatusOr<std::string> answer = foreign_->Command(
        absl::StrCat("flood_attach ", daemon_->broker_address(), " ",
                     kSessions + 4, " ", absl::ToInt64Milliseconds(kFlood)));
    flood_answer = answer.ok() ? *answer : answer.status().ToString();
  });
  // Start once the flood is reaching the daemon.
  ASSERT_TRUE(Eventually([&] {
    v1::GetStatsResponse stats;
    return stub_->GetStats(Context().get(), {}, &stats).ok() &&
           stats.daemon().attach_refused() > 0;
  }));
  std::vector<std::unique_ptr<Session>> sessions;
  for (int i = 0; i < kSessions; ++i) {
    SessionOptions o;
    o.name = absl::StrCat("worker-", i);
    o.address = daemon_->address();
    auto session = Session::Connect(o);
    EXPECT_TRUE(session.ok()) << o.name << ": " << session.status();
    if (session.ok()) sessions.push_back(*std::move(session));
  }
  const absl::Time connected = absl::Now();
  flood.join();
  EXPECT_EQ(sessions.size(), kSessions);
  // The flood outlasted every connect, and hit real registrations.
  EXPECT_LT(connected, flood_sent + kFlood);
  std::fprintf(stderr, "flood: %s\n", flood_answer.c_str());
  EXPECT_THAT(flood_answer, StartsWith("ok "));
  EXPECT_GT(CodeCount(flood_answer, "PERMISSION_DENIED"), 0) << flood_answer;
  // Nothing but refusals for the attacker.
  EXPECT_EQ(CodeCount(flood_answer, "OK"), 0) << flood_answer;
}

}  // namespace
}  // namespace shmport::testing
