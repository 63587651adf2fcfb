// Security (issue 7): a process of another uid (nobody, 65534) against a
// daemon run by root. It cannot reach a default daemon at all, cannot
// register unless the policy admits its uid or gid, cannot claim a name
// its uid's rules forbid, cannot attach (or act for) another process's
// registration, and cannot open ports the policy forbids.
//
// Switching uid needs root, which CI has; elsewhere these tests skip.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shmport/session.h"
#include "tests/control/daemon_process.h"
#include "tests/control/raw_client.h"
#include "tests/security/foreign_process.h"
#include "tests/security/foreign_uid_test.h"

namespace shmport::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST_F(ForeignUidTest, DefaultDaemonIsOutOfReachForAnotherUid) {
  StartDaemon("", /*reachable_by_group=*/false);
  SpawnForeign();
  // The 0700 directory stops it before any policy is asked.
  EXPECT_THAT(Ask("connect_socket " + dir_ + "/control.sock"),
              StartsWith("error EACCES"));
  EXPECT_THAT(Ask("connect_socket " + dir_ + "/broker.sock"),
              StartsWith("error EACCES"));
  EXPECT_THAT(Ask("read " + dir_ + "/admin.token"), StartsWith("error EACCES"));
  // The library says why, as the CLI does (common/paths/reachability.h).
  const std::string refused = Ask("connect guest-1");
  EXPECT_THAT(refused, StartsWith("error UNAVAILABLE"));
  EXPECT_THAT(refused, HasSubstr("permission denied. shmportd runs, but " +
                                 dir_ + " belongs to uid 0"));
  EXPECT_THAT(refused, HasSubstr("socket_group"));
  EXPECT_TRUE(Processes().empty());
}

TEST_F(ForeignUidTest, AnotherUidIsRefusedWhenThePolicyDoesNotAdmitIt) {
  StartDaemon("attach_timeout_ms: 500");
  SpawnForeign();
  const std::string answer = Ask("connect guest-1");
  EXPECT_THAT(answer, StartsWith("error PERMISSION_DENIED"));
  EXPECT_THAT(answer, HasSubstr(absl::StrCat("uid ", kForeignUid)));
  // The admin token stays private even to those who can reach the socket.
  EXPECT_THAT(Ask("read " + dir_ + "/admin.token"), StartsWith("error EACCES"));
  // Nothing of it stays registered, and the refusal is counted.
  EXPECT_TRUE(Eventually([&] { return Processes().empty(); }));
  v1::GetStatsResponse stats;
  ASSERT_TRUE(stub_->GetStats(Context().get(), {}, &stats).ok());
  EXPECT_GE(stats.daemon().attach_refused(), 1u);
}

TEST_F(ForeignUidTest, AnotherUidAdmittedByUidRegistersUnderItsKernelUid) {
  StartDaemon(absl::StrCat("policy { allowed_uids: ", kForeignUid, " }"));
  SpawnForeign();
  EXPECT_THAT(Ask("connect guest-1"), StartsWith("ok "));
  const auto processes = Processes();
  ASSERT_EQ(processes.size(), 1u);
  EXPECT_EQ(processes[0].name(), "guest-1");
  EXPECT_EQ(processes[0].uid(), kForeignUid);
  EXPECT_EQ(processes[0].gid(), kForeignGid);
  EXPECT_EQ(processes[0].pid(), foreign_->pid());
  EXPECT_EQ(processes[0].state(), v1::PROCESS_STATE_ATTACHED);
}

TEST_F(ForeignUidTest, AnotherUidAdmittedByGidRegisters) {
  StartDaemon(absl::StrCat("policy { allowed_gids: ", kForeignGid, " }"));
  SpawnForeign();
  EXPECT_THAT(Ask("connect guest-1"), StartsWith("ok "));
  ASSERT_EQ(Processes().size(), 1u);
}

std::string GuestNamesOnly() {
  return absl::StrCat("policy { ", AdmitBoth(),
                      " name_rules { uid: ", kForeignUid,
                      " name_patterns: \"guest-*\" } }");
}

TEST_F(ForeignUidTest, NameRulesConfineAnotherUidToItsNames) {
  StartDaemon(GuestNamesOnly() + "\nattach_timeout_ms: 500");
  SpawnForeign();
  const std::string refused = Ask("connect router");
  EXPECT_THAT(refused, StartsWith("error PERMISSION_DENIED"));
  EXPECT_THAT(refused, HasSubstr("'router'"));
  EXPECT_THAT(refused, HasSubstr("guest-*"));
  EXPECT_THAT(Ask("connect guest-2"), StartsWith("ok "));
  // Root has no rules: it may take "router" (the refused registration is
  // gone: see RefusedAttachReleasesTheNameAtOnce).
  const grpc::Status status = RegisterThisProcess("router");
  EXPECT_TRUE(status.ok()) << Describe(status);
}

// An attach the policy refuses to the registering process itself (right
// token, from the registered pid; here a name its uid's rules forbid)
// ends that registration at once: the name is free for its rightful owner
// right away, not at the attach timeout (5 s by default), so a confined
// uid cannot squat "router" by trying every few seconds. A refusal for a
// wrong token or a wrong pid may come from a stranger and leaves the
// registration alone (AnotherUidCannotAttachSomeoneElsesRegistration).
TEST_F(ForeignUidTest, RefusedAttachReleasesTheNameAtOnce) {
  StartDaemon(GuestNamesOnly());  // attach timeout: the default 5 s
  SpawnForeign();
  ASSERT_THAT(Ask("connect router"), StartsWith("error PERMISSION_DENIED"));
  const grpc::Status status = RegisterThisProcess("router");
  EXPECT_TRUE(status.ok()) << Describe(status);
}

TEST_F(ForeignUidTest, AnotherUidCannotAttachSomeoneElsesRegistration) {
  StartDaemon(absl::StrCat("policy { ", AdmitBoth(), " }"));
  SpawnForeign();
  // A registration of this (root) process, not attached yet; its id and
  // token leak to the other uid.
  auto victim = RegisterOnly(*stub_, "victim");
  ASSERT_TRUE(victim.ok()) << victim.status();
  const std::string stolen = Ask(absl::StrCat(
      "attach ", victim->broker_address, " ", victim->id, " ", victim->token));
  EXPECT_THAT(stolen, StartsWith("error PERMISSION_DENIED"));
  EXPECT_THAT(stolen,
              HasSubstr(absl::StrCat("comes from pid ", foreign_->pid())));
  // The victim is undisturbed: it attaches itself.
  auto link = BrokerLink::Attach(victim->broker_address, victim->id,
                                 victim->token, kBound);
  EXPECT_TRUE(link.ok()) << link.status();

  // Its own registration needs its own token.
  const std::vector<std::string> mine =
      absl::StrSplit(Ask("raw_register guest-1"), ' ');
  ASSERT_EQ(mine.size(), 3u);
  ASSERT_EQ(mine[0], "ok");
  const std::string wrong = Ask(absl::StrCat("attach ", victim->broker_address,
                                             " ", mine[1], " ", victim->token));
  EXPECT_THAT(wrong, StartsWith("error PERMISSION_DENIED"));
  EXPECT_THAT(wrong, HasSubstr("session_token does not match"));
  EXPECT_EQ(Ask(absl::StrCat("attach ", victim->broker_address, " ", mine[1],
                             " ", mine[2])),
            "ok");
}

TEST_F(ForeignUidTest, AnotherUidCannotOpenPortsThePolicyForbids) {
  StartDaemon(
      absl::StrCat("policy { ", AdmitBoth(),
                   " port_rules { from: \"guest-*\" to: \"public-*\" }",
                   " port_rules { from: \"public-*\" to: \"guest-*\" } }"));
  auto public_api = Connect("public-api");
  auto secret_db = Connect("secret-db");
  ASSERT_TRUE(public_api != nullptr && secret_db != nullptr);
  SpawnForeign();
  ASSERT_THAT(Ask("connect guest-1"), StartsWith("ok "));

  const std::string denied = Ask("open secret-db");
  EXPECT_THAT(denied, StartsWith("error PERMISSION_DENIED"));
  EXPECT_THAT(denied, HasSubstr("from 'guest-1' to 'secret-db'"));
  // Claiming to be another process with its own token does not help.
  ASSERT_THAT(Ask("raw_register guest-2"), StartsWith("ok "));
  EXPECT_THAT(
      Ask(absl::StrCat("open_from ", public_api->process_id(), " secret-db")),
      StartsWith("error PERMISSION_DENIED"));
  EXPECT_THAT(
      Ask(absl::StrCat("open_from ", secret_db->process_id(), " public-api")),
      StartsWith("error PERMISSION_DENIED"));
  v1::ListPortsResponse ports;
  ASSERT_TRUE(stub_->ListPorts(Context().get(), {}, &ports).ok());
  EXPECT_EQ(ports.ports_size(), 0);

  // What the policy allows works across uids, both ways, and the kernel
  // vouches for the other end's uid.
  ASSERT_THAT(Ask("open public-api"), StartsWith("ok "));
  auto port = public_api->AcceptPort(kBound);
  ASSERT_TRUE(port.ok()) << port.status();
  EXPECT_EQ((*port)->peer().uid, kForeignUid);
  EXPECT_EQ((*port)->peer().name, "guest-1");
  EXPECT_EQ(Ask("send hello from nobody"), "ok");
  auto m = (*port)->Receive(kBound);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->ToString(), "hello from nobody");
  const std::string reply = "hello from root";
  ASSERT_TRUE(
      (*port)
          ->SendCopy(1, absl::MakeConstSpan(
                            reinterpret_cast<const uint8_t*>(reply.data()),
                            reply.size()))
          .ok());
  EXPECT_EQ(Ask("receive"), "ok hello from root");
  ASSERT_TRUE(stub_->ListPorts(Context().get(), {}, &ports).ok());
  EXPECT_EQ(ports.ports_size(), 1);
}

// Issue 11, hole 7 (registration squatting). Register cannot tell who
// calls (gRPC 1.51 gives no peer credentials on a unix socket), so a name
// is bound only when a registration attaches, where SO_PEERCRED is known,
// and the per-uid budgets are counted there.

TEST_F(ForeignUidTest, NameRulesRefuseTheNameAlreadyAtRegister) {
  StartDaemon(GuestNamesOnly());
  SpawnForeign();
  const std::string refused = Ask("raw_register router");
  EXPECT_THAT(refused, StartsWith("error PERMISSION_DENIED"));
  EXPECT_THAT(refused, HasSubstr("policy.name_rules"));
  EXPECT_THAT(refused, HasSubstr("guest-*"));
  EXPECT_TRUE(Processes().empty());
}

// A Register declaring someone else's pid (here pid 1, whose uid has no
// name rules, so Register's early check passes) can never attach: the
// link's pid must match. It holds nothing meanwhile.
TEST_F(ForeignUidTest, RegistrationDeclaringAnotherPidHoldsNothing) {
  StartDaemon(GuestNamesOnly());
  SpawnForeign();
  EXPECT_EQ(Ask("register_flood router 3 1"), "ok 3 0");
  auto router = Connect("router");
  ASSERT_NE(router, nullptr);
  EXPECT_EQ(router->process_id(), Processes().back().id());
  // A pid that runs nothing is refused outright.
  EXPECT_THAT(Ask("register_flood guest-1 1 4194303"),
              HasSubstr("INVALID_ARGUMENT"));
}

// Two squatters re-register "router" (and flood registrations) as fast as
// they can, never attaching; the rightful router, and sixteen workers,
// register and attach within their normal bound all along.
TEST_F(ForeignUidTest, SquattersFloodingRegisterCannotKeepTheRightfulOut) {
  StartDaemon(absl::StrCat("policy { ", AdmitBoth(), " }"));
  SpawnForeign();
  auto second = ForeignProcess::Spawn({"--address=" + daemon_->address()});
  ASSERT_TRUE(second.ok()) << second.status();
  std::atomic<bool> flooding{true};
  std::string answers[2];
  std::thread squatters[2];
  ForeignProcess* floods[2] = {foreign_.get(), second->get()};
  for (int i = 0; i < 2; ++i) {
    squatters[i] = std::thread([&, i] {
      auto answer =
          floods[i]->Command("register_flood router 3000", absl::Seconds(60));
      answers[i] = answer.ok() ? *answer : answer.status().ToString();
      flooding = false;
    });
  }
  int rounds = 0;
  absl::Duration slowest;
  while (flooding) {
    const absl::Time start = absl::Now();
    auto router = Connect("router");
    auto worker = Connect(absl::StrCat("worker-", rounds));
    ASSERT_TRUE(router != nullptr && worker != nullptr) << "round " << rounds;
    slowest = std::max(slowest, absl::Now() - start);
    // Synchronously: a Session's destructor only closes its link, and the
    // daemon frees the name when it sees the EOF.
    EXPECT_TRUE(router->Unregister().ok());
    EXPECT_TRUE(worker->Unregister().ok());
    ++rounds;
  }
  for (std::thread& t : squatters) t.join();
  for (const std::string& answer : answers) {
    // Squatting Registers were accepted (and evicted) whenever the
    // rightful router was not attached: the flood was real.
    const std::vector<std::string> words = absl::StrSplit(answer, ' ');
    int accepted = 0;
    ASSERT_GE(words.size(), 3u) << answer;
    ASSERT_TRUE(absl::SimpleAtoi(words[1], &accepted)) << answer;
    EXPECT_GT(accepted, 0) << answer;
  }
  EXPECT_GE(rounds, 16) << "the flood ended before 16 rounds overlapped it";
  EXPECT_LT(slowest, absl::Seconds(2));
  std::cerr << "rounds during the flood: " << rounds
            << ", slowest router+worker connect: " << slowest << "\n";
}

TEST_F(ForeignUidTest, RegistrationRateIsCountedPerUid) {
  StartDaemon(absl::StrCat("policy { ", AdmitBoth(),
                           " }\nlimits { registrations_per_second: 1 "
                           "registration_burst: 3 }"));
  SpawnForeign();
  for (int i = 0; i < 3; ++i) {
    ASSERT_THAT(Ask(absl::StrCat("connect guest-", i)), StartsWith("ok "));
  }
  const std::string limited = Ask("connect guest-3");
  EXPECT_THAT(limited, StartsWith("error RESOURCE_EXHAUSTED"));
  EXPECT_THAT(limited, HasSubstr(absl::StrCat("uid ", kForeignUid)));
  EXPECT_THAT(limited, HasSubstr("limits.registrations_per_second"));
  // Another uid's budget is its own.
  auto mine = Connect("router");
  EXPECT_NE(mine, nullptr);
}

// With socket_group set, the daemon makes the directory 0750 and the
// sockets 0660, and gives all three to the group: connect(2) needs write
// permission on the socket file itself, so a member of the group can
// connect, and so register, without an operator chowning anything.
TEST_F(ForeignUidTest, SocketGroupMembersCanConnectToTheSockets) {
  StartDaemon(absl::StrCat("policy { allowed_gids: ", kForeignGid,
                           " }\nsocket_group: \"nogroup\""),
              /*reachable_by_group=*/false);
  for (const char* socket : {"/control.sock", "/broker.sock"}) {
    struct stat st;
    ASSERT_EQ(::stat((dir_ + socket).c_str(), &st), 0);
    EXPECT_EQ(st.st_gid, kForeignGid) << socket;
    EXPECT_EQ(st.st_mode & 0777, 0660u) << socket;
  }
  SpawnForeign();
  EXPECT_EQ(Ask("connect_socket " + dir_ + "/control.sock"), "ok");
  EXPECT_THAT(Ask("connect guest-1"), StartsWith("ok "));
}

}  // namespace
}  // namespace shmport::testing
