// The correctness side of acceptance 5, at a tenth of the benchmark's
// scale: 100 light client processes, 1,000 ports, and afterwards the
// registry, the clients and the event stream all agree — also after ten
// clients are killed at once. (Speed is measured by
// //bench:control_plane_load, never asserted here.)
#include <signal.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/control/daemon_process.h"
#include "tests/control/light_process.h"
#include "tests/control/raw_client.h"

namespace shmport::testing {
namespace {

constexpr int kProcesses = 100;
constexpr int kPortsPerProcess = 10;  // opened by each; 20 ends each
constexpr int kKilled = 10;

TEST(LoadTest, HundredProcessesThousandPortsStayConsistent) {
  auto daemon = DaemonProcess::Start(
      {.config_text = "limits { registrations_per_second: 100000 "
                      "registration_burst: 100000 }"});
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  auto stub = (*daemon)->NewStub();

  struct Client {
    std::unique_ptr<LightProcess> process;
    uint64_t id = 0;
    std::string token;
  };
  std::vector<Client> clients(kProcesses);
  for (int i = 0; i < kProcesses; ++i) {
    auto p = LightProcess::Fork();
    ASSERT_TRUE(p.ok()) << p.status();
    clients[i].process = std::move(*p);
  }
  for (int i = 0; i < kProcesses; ++i) {
    v1::RegisterRequest request;
    request.set_name(absl::StrCat("load-", i));
    request.set_pid(clients[i].process->pid());
    v1::RegisterResponse response;
    const grpc::Status s = stub->Register(Context().get(), request, &response);
    ASSERT_TRUE(s.ok()) << Describe(s);
    clients[i].id = response.process_id();
    clients[i].token = response.session_token();
    ASSERT_TRUE(clients[i]
                    .process
                    ->Attach(response.broker_address(), clients[i].id,
                             clients[i].token, absl::Seconds(30))
                    .ok());
  }

  // Process i opens ports to the next kPortsPerProcess processes.
  std::map<uint64_t, std::pair<int, int>> ends;  // port id -> (from, to)
  for (int k = 1; k <= kPortsPerProcess; ++k) {
    for (int i = 0; i < kProcesses; ++i) {
      const int j = (i + k) % kProcesses;
      v1::OpenPortRequest request;
      request.mutable_from()->set_id(clients[i].id);
      request.mutable_to()->set_id(clients[j].id);
      request.set_session_token(clients[i].token);
      v1::OpenPortResponse response;
      const grpc::Status s =
          stub->OpenPort(Context().get(), request, &response);
      ASSERT_TRUE(s.ok()) << Describe(s);
      ends[response.port_id()] = {i, j};
    }
  }
  ASSERT_EQ(ends.size(), static_cast<size_t>(kProcesses * kPortsPerProcess));

  // Every client holds exactly its 20 port ends.
  for (Client& c : clients) {
    auto counts =
        c.process->AwaitCounts(2 * kPortsPerProcess, 0, absl::Seconds(30));
    ASSERT_TRUE(counts.ok()) << counts.status();
    EXPECT_EQ(counts->opened, 2u * kPortsPerProcess);
  }
  v1::ListProcessesResponse processes;
  ASSERT_TRUE(stub->ListProcesses(Context().get(), {}, &processes).ok());
  ASSERT_EQ(processes.processes_size(), kProcesses);
  for (const auto& p : processes.processes()) {
    EXPECT_EQ(p.state(), v1::PROCESS_STATE_ATTACHED) << p.name();
    EXPECT_EQ(p.port_count(), 2u * kPortsPerProcess) << p.name();
  }
  v1::GetStatsResponse stats;
  ASSERT_TRUE(stub->GetStats(Context().get(), {}, &stats).ok());
  EXPECT_EQ(stats.daemon().ports(), ends.size());
  EXPECT_EQ(stats.daemon().ports_opened_total(), ends.size());
  std::printf("daemon at 100 processes / 1000 ports: rss %llu KiB, %u fds\n",
              static_cast<unsigned long long>(stats.daemon().rss_bytes() >> 10),
              stats.daemon().open_fds());

  // Kill ten clients at once; watch the daemon notice each. The snapshot
  // (include_existing) proves the watch is live before the kills.
  grpc::ClientContext watch_context;
  v1::WatchEventsRequest watch_request;
  watch_request.set_include_existing(true);
  auto watch = stub->WatchEvents(&watch_context, watch_request);
  v1::Event event;
  for (size_t i = 0; i < kProcesses + ends.size(); ++i) {
    ASSERT_TRUE(watch->Read(&event));
    ASSERT_EQ(event.sequence(), 0u);  // synthetic: the present state
  }
  std::set<int> killed;
  for (int i = 0; i < kProcesses; i += kProcesses / kKilled) killed.insert(i);
  for (int i : killed) clients[i].process->Kill(SIGKILL);
  std::set<uint64_t> exited;
  while (exited.size() < killed.size() && watch->Read(&event)) {
    if (event.kind() == v1::Event::PROCESS_EXITED) {
      exited.insert(event.process().id());
    }
  }
  ASSERT_EQ(exited.size(), killed.size());
  watch_context.TryCancel();

  // What survives: the registry, and each survivor's PortClosed notices.
  std::map<int, uint32_t> expected_closed;
  size_t surviving_ports = 0;
  for (const auto& [id, e] : ends) {
    const bool from_dead = killed.contains(e.first);
    const bool to_dead = killed.contains(e.second);
    if (!from_dead && !to_dead) ++surviving_ports;
    if (from_dead && !to_dead) ++expected_closed[e.second];
    if (to_dead && !from_dead) ++expected_closed[e.first];
  }
  ASSERT_TRUE(stub->ListProcesses(Context().get(), {}, &processes).ok());
  EXPECT_EQ(processes.processes_size(), kProcesses - kKilled);
  v1::ListPortsResponse ports;
  ASSERT_TRUE(stub->ListPorts(Context().get(), {}, &ports).ok());
  EXPECT_EQ(static_cast<size_t>(ports.ports_size()), surviving_ports);
  for (const auto& p : ports.ports()) {
    EXPECT_FALSE(exited.contains(p.a().process_id()));
    EXPECT_FALSE(exited.contains(p.b().process_id()));
  }
  for (int i = 0; i < kProcesses; ++i) {
    if (killed.contains(i)) continue;
    auto counts = clients[i].process->AwaitCounts(
        2 * kPortsPerProcess, expected_closed[i], absl::Seconds(30));
    ASSERT_TRUE(counts.ok()) << counts.status();
    EXPECT_EQ(counts->closed, expected_closed[i]) << "client " << i;
  }
  for (int i = 0; i < kProcesses; ++i) {
    if (!killed.contains(i)) {
      EXPECT_EQ(clients[i].process->Finish(absl::Seconds(30)), "exit 0");
    }
  }
}

}  // namespace
}  // namespace shmport::testing
