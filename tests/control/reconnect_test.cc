// Acceptance (issue 13, items 3 and 4), with real processes: a router and
// two workers streaming to it through a real shmportd.
//  - SIGKILL the daemon and start it again: within 5 s `ps` lists all three,
//    `ports` lists the still-open ports (same ids) with counters that keep
//    growing, and each process's daemon-lost and reconnected callbacks fired
//    once.
//  - `shmportctl close` on a streaming port: both ends see UNAVAILABLE
//    naming the operator within 1 s, and the router's on_port_closed fires.
#include <signal.h>
#include <unistd.h>

#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/control/client_process.h"
#include "tests/control/daemon_process.h"
#include "tests/control/raw_client.h"
#include "tests/util/child_process.h"
#include "tests/util/eventually.h"
#include "tests/util/runfiles.h"

namespace shmport::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr absl::Duration kBound = absl::Seconds(20);  // failure timeout only

// Reads lines until one starts with `prefix`; returns it (or the error).
std::string LineStartingWith(ClientProcess& p, absl::string_view prefix,
                             absl::Duration bound = kBound) {
  const absl::Time deadline = absl::Now() + bound;
  while (absl::Now() < deadline) {
    absl::StatusOr<std::string> line = p.ReadLine(deadline - absl::Now());
    if (!line.ok()) return std::string(line.status().ToString());
    if (absl::StartsWith(*line, prefix)) return *line;
  }
  return absl::StrCat("no line starting with '", prefix, "'");
}

uint64_t IdAfter(absl::string_view line, absl::string_view prefix) {
  uint64_t id = 0;
  std::vector<absl::string_view> words = absl::StrSplit(line, ' ');
  if (words.size() < 2 || words[0] != prefix ||
      !absl::SimpleAtoi(words[1], &id)) {
    ADD_FAILURE() << "expected '" << prefix << " <id>', got: " << line;
  }
  return id;
}

// A router (sink of two ports) and two workers streaming to it.
struct Demo {
  std::vector<ClientProcess> processes;  // router, worker-1, worker-2
  std::vector<uint64_t> port_ids;        // worker-1's, worker-2's
};

absl::StatusOr<Demo> StartDemo(const DaemonProcess& daemon) {
  Demo demo;
  const std::string address = absl::StrCat("--address=", daemon.address());
  auto router = ClientProcess::Spawn({address, "--name=router", "--mode=sink",
                                      "--ports=2", "--stats_interval_ms=50"});
  if (!router.ok()) return router.status();
  demo.processes.push_back(*std::move(router));
  for (const char* name : {"worker-1", "worker-2"}) {
    auto worker = ClientProcess::Spawn({address, absl::StrCat("--name=", name),
                                        "--mode=stream", "--peer=router",
                                        "--stats_interval_ms=50"});
    if (!worker.ok()) return worker.status();
    demo.processes.push_back(*std::move(worker));
    demo.port_ids.push_back(IdAfter(
        LineStartingWith(demo.processes.back(), "streaming"), "streaming"));
  }
  for (int i = 0; i < 2; ++i) {
    (void)LineStartingWith(demo.processes[0], "accepted");
  }
  return demo;
}

std::vector<std::string> ProcessNames(v1::ControlPlane::Stub& stub) {
  v1::ListProcessesResponse r;
  std::vector<std::string> names;
  if (stub.ListProcesses(Context().get(), {}, &r).ok()) {
    for (const auto& p : r.processes()) names.push_back(p.name());
  }
  return names;
}

// Port id -> messages the worker end (a) has reported sent.
std::map<uint64_t, uint64_t> SentByPort(v1::ControlPlane::Stub& stub) {
  v1::ListPortsResponse r;
  std::map<uint64_t, uint64_t> sent;
  if (stub.ListPorts(Context().get(), {}, &r).ok()) {
    for (const auto& p : r.ports())
      sent[p.id()] = p.a().stats().messages_sent();
  }
  return sent;
}

TEST(ReconnectTest, DaemonKilledUnderARouterAndTwoWorkersComesBackWhole) {
  char dir[] = "/tmp/sp-rcXXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  auto daemon = DaemonProcess::Start({.directory = dir});
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  auto demo = StartDemo(**daemon);
  ASSERT_TRUE(demo.ok()) << demo.status();

  (*daemon)->Kill(SIGKILL);
  daemon->reset();
  for (ClientProcess& p : demo->processes) {
    EXPECT_EQ(LineStartingWith(p, "daemon_lost"), "daemon_lost");
  }
  const absl::Time restarted = absl::Now();
  auto again = DaemonProcess::Start({.directory = dir});
  ASSERT_TRUE(again.ok()) << again.status();
  auto stub = (*again)->NewStub();
  // Within 5 s: all three registered again, both ports listed again.
  std::map<uint64_t, uint64_t> first;
  ASSERT_TRUE(Eventually(
      [&] {
        first = SentByPort(*stub);
        return ProcessNames(*stub).size() == 3 && first.size() == 2 &&
               first.begin()->second > 0 && first.rbegin()->second > 0;
      },
      absl::Seconds(5)))
      << "after 5 s: processes " << ProcessNames(*stub).size() << ", ports "
      << SentByPort(*stub).size();
  const absl::Duration whole = absl::Now() - restarted;
  EXPECT_THAT(ProcessNames(*stub),
              UnorderedElementsAre("router", "worker-1", "worker-2"));
  EXPECT_EQ(first.count(demo->port_ids[0]), 1u);
  EXPECT_EQ(first.count(demo->port_ids[1]), 1u);
  // The counters keep growing (the workers send about 1,000 messages/s).
  ASSERT_TRUE(Eventually(
      [&] {
        std::map<uint64_t, uint64_t> now = SentByPort(*stub);
        return now.size() == 2 &&
               now[demo->port_ids[0]] > first[demo->port_ids[0]] &&
               now[demo->port_ids[1]] > first[demo->port_ids[1]];
      },
      kBound));
  std::cerr << "registry whole again " << absl::FormatDuration(whole)
            << " after the restart began\n";
  // Printed at exit: the loss and the reconnection each told once.
  for (ClientProcess& p : demo->processes) {
    auto code = p.Finish(kBound);
    EXPECT_TRUE(code.ok() && *code == 0) << code.status();
    // (closed= counts the ends' closes at teardown: not checked here.)
    EXPECT_THAT(LineStartingWith(p, "callbacks"),
                HasSubstr("callbacks lost=1 reconnected=1 closed="));
  }
  again->reset();
  ::rmdir(dir);
}

TEST(ReconnectTest, OperatorCloseClosesBothEndsNamingTheOperator) {
  char dir[] = "/tmp/sp-ocXXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  auto daemon = DaemonProcess::Start({.directory = dir});
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  auto demo = StartDemo(**daemon);
  ASSERT_TRUE(demo.ok()) << demo.status();
  const uint64_t port = demo->port_ids[0];
  const std::string ctl = FindRunfile("cli/shmportctl");
  const std::string address = absl::StrCat("--address=", (*daemon)->address());
  const std::string id = absl::StrCat(port);
  const absl::Time closing = absl::Now();
  ChildProcess close = ChildProcess::Fork([&] {
    ::execl(ctl.c_str(), ctl.c_str(), "close", id.c_str(), address.c_str(),
            nullptr);
    return 127;
  });
  ASSERT_EQ(close.Wait(kBound), "exit 0");
  const std::string reason = absl::StrCat(
      "port ", port, " closed by operator (admin token, client shmportctl)");
  // The worker's next send and the router's blocked receive both fail; the
  // router's on_port_closed fires (in either order with the receive).
  EXPECT_THAT(LineStartingWith(demo->processes[1], "send_failed"),
              HasSubstr(absl::StrCat("UNAVAILABLE: ", reason)));
  std::string receive_failed, port_closed;
  while (receive_failed.empty() || port_closed.empty()) {
    absl::StatusOr<std::string> line = demo->processes[0].ReadLine(kBound);
    ASSERT_TRUE(line.ok()) << line.status();
    if (absl::StartsWith(*line, "receive_failed")) receive_failed = *line;
    if (absl::StartsWith(*line, "port_closed")) port_closed = *line;
  }
  const absl::Duration latency = absl::Now() - closing;
  EXPECT_THAT(receive_failed, HasSubstr(absl::StrCat("UNAVAILABLE: ", reason)));
  EXPECT_EQ(port_closed, absl::StrCat("port_closed ", port, " ", reason));
  EXPECT_LT(latency, absl::Seconds(1));
  std::cerr << "both ends closed " << absl::FormatDuration(latency)
            << " after shmportctl close started\n";
  // The other worker's port is untouched; the router reported the close.
  EXPECT_EQ(SentByPort(*(*daemon)->NewStub()).count(demo->port_ids[1]), 1u);
  for (ClientProcess& p : demo->processes) {
    ASSERT_TRUE(p.Finish(kBound).ok());
  }
  daemon->reset();
  ::rmdir(dir);
}

}  // namespace
}  // namespace shmport::testing
