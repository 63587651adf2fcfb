// Fault injection (issue 7) with a real shmportd: the daemon killed
// (SIGKILL) or stopped (SIGSTOP/SIGCONT), and worker processes killed,
// ended or stopped at random points of their streams. After each fault the
// survivors keep streaming without a lost or corrupted byte, nothing
// leaks, and the daemon's registry (ListProcesses / ListPorts) matches
// exactly the processes and ports that are alive.
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "shmport/session.h"
#include "tests/control/daemon_process.h"
#include "tests/control/raw_client.h"
#include "tests/load/worker_ring.h"
#include "tests/util/eventually.h"
#include "tests/util/process_census.h"

namespace shmport::testing {
namespace {

constexpr absl::Duration kBound = absl::Seconds(20);

WorkerRingOptions RingOptions(int workers, int ports_per_worker) {
  WorkerRingOptions o;
  o.workers = workers;
  o.ports_per_worker = ports_per_worker;
  o.name_prefix = "fault";
  o.stream.messages_per_second = 50;
  o.stream.max_payload = 64 * 1024;
  return o;
}

SessionOptions SessionFor(const DaemonProcess& daemon,
                          const std::string& name) {
  SessionOptions o;
  o.name = name;
  o.address = daemon.address();
  o.rpc_timeout = absl::Milliseconds(500);
  o.stats_interval = absl::Milliseconds(50);
  return o;
}

// The report of worker i, or a failed test.
WorkerReport ReportOf(WorkerRing& ring, int i) {
  absl::StatusOr<WorkerReport> r = ring.worker(i).Report(kBound);
  EXPECT_TRUE(r.ok()) << ring.name(i) << ": " << r.status();
  return r.ok() ? *r : WorkerReport();
}

// Waits until every live worker received `more` messages beyond `before`.
bool AllKeepReceiving(WorkerRing& ring, const std::vector<WorkerReport>& before,
                      uint64_t more) {
  return Eventually([&] {
    for (int i = 0; i < ring.size(); ++i) {
      if (!ring.alive(i)) continue;
      if (ReportOf(ring, i).messages_received <
          before[i].messages_received + more) {
        return false;
      }
    }
    return true;
  });
}

std::vector<WorkerReport> Reports(WorkerRing& ring) {
  std::vector<WorkerReport> out(ring.size());
  for (int i = 0; i < ring.size(); ++i) {
    if (ring.alive(i)) out[i] = ReportOf(ring, i);
  }
  return out;
}

void ExpectIntact(const WorkerReport& r, const std::string& who) {
  EXPECT_EQ(r.corrupt, 0u) << who;
  EXPECT_EQ(r.lost, 0u) << who;
  EXPECT_EQ(r.duplicated, 0u) << who;
  EXPECT_EQ(r.closed_by_protocol, 0u) << who;
  EXPECT_EQ(r.port_open_failures, 0u) << who;
}

// Finishes the ring: every worker closes its ports cleanly, holds no
// segment mapping afterwards, and never saw a bad byte.
void FinishIntact(WorkerRing& ring) {
  absl::StatusOr<std::vector<WorkerReport>> reports = ring.FinishAll(kBound);
  ASSERT_TRUE(reports.ok()) << reports.status();
  for (int i = 0; i < ring.size(); ++i) {
    const WorkerReport& r = (*reports)[i];
    if (r.pid == 0) continue;
    ExpectIntact(r, ring.name(i));
    EXPECT_EQ(r.segment_mappings, 0) << ring.name(i);
    EXPECT_EQ(r.ports_open, 0u) << ring.name(i);
  }
}

// Sends a few bytes from `from` and expects them at `to`.
void ExpectCarries(Port& from, Port& to, uint32_t stream) {
  const std::vector<uint8_t> bytes(3000, static_cast<uint8_t>(stream));
  ASSERT_TRUE(from.SendCopy(stream, bytes).ok());
  absl::StatusOr<Message> m = to.Receive(kBound);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->stream(), stream);
  EXPECT_EQ(m->ToString(), std::string(bytes.begin(), bytes.end()));
}

void AwaitStopped(pid_t pid) {
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, WUNTRACED), pid);
  ASSERT_TRUE(WIFSTOPPED(status)) << "ended instead: " << status;
}

TEST(DaemonFaultTest, KilledDaemonLeavesPortsCarryingDataAndARestartServes) {
  char tmpl[] = "/tmp/shmport-fXXXXXX";  // a restart needs the same address
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  absl::Cleanup remove_dir = [&] { std::filesystem::remove_all(dir); };
  auto daemon = DaemonProcess::Start({.directory = dir});
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  auto stub = (*daemon)->NewStub();
  auto ring = WorkerRing::Start(stub.get(), RingOptions(4, 2));
  ASSERT_TRUE(ring.ok()) << ring.status();
  auto a = Session::Connect(SessionFor(**daemon, "session-a"));
  auto b = Session::Connect(SessionFor(**daemon, "session-b"));
  ASSERT_TRUE(a.ok() && b.ok());
  auto pa = (*a)->OpenPort("session-b");
  ASSERT_TRUE(pa.ok()) << pa.status();
  auto pb = (*b)->AcceptPort(kBound);
  ASSERT_TRUE(pb.ok()) << pb.status();
  ASSERT_TRUE((*ring)->AwaitRegistry(kBound).ok());

  (*daemon)->Kill(SIGKILL);
  ASSERT_TRUE(Eventually([&] { return !(*a)->health().ok(); }))
      << "session a never noticed the daemon's death";
  EXPECT_EQ((*a)->health().code(), absl::StatusCode::kUnavailable);
  // Control calls fail with UNAVAILABLE...
  EXPECT_EQ((*a)->OpenPort("session-b").status().code(),
            absl::StatusCode::kUnavailable);
  v1::ListProcessesResponse listed;
  EXPECT_EQ(stub->ListProcesses(Context().get(), {}, &listed).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  // ...while every port carries data both ways.
  ExpectCarries(**pa, **pb, 1);
  ExpectCarries(**pb, **pa, 2);
  const std::vector<WorkerReport> at_kill = Reports(**ring);
  EXPECT_TRUE(AllKeepReceiving(**ring, at_kill, 20));
  for (int i = 0; i < (*ring)->size(); ++i) {
    EXPECT_EQ(ReportOf(**ring, i).daemon_lost, 1u) << (*ring)->name(i);
  }

  // A new daemon on the same address (the dead one's socket files are
  // stale): it starts empty, and the sessions register again and declare
  // their ports, which the daemon lists again under their old ids (the
  // ring's workers hold raw broker links, no Session: they stay away).
  daemon->reset();
  auto again = DaemonProcess::Start({.directory = dir});
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_TRUE((*a)->Reconnect().ok());
  ASSERT_TRUE((*b)->Reconnect().ok());
  EXPECT_TRUE((*a)->health().ok());
  auto fresh_stub = (*again)->NewStub();
  const std::set<std::string> expected = {"session-a", "session-b"};
  std::set<std::string> names;
  EXPECT_TRUE(Eventually([&] {
    names.clear();
    listed.Clear();
    if (!fresh_stub->ListProcesses(Context().get(), {}, &listed).ok()) {
      return false;
    }
    for (const auto& p : listed.processes()) names.insert(p.name());
    return names == expected;
  }));
  EXPECT_EQ(names, expected);
  EXPECT_TRUE(Eventually([&] {
    v1::ListPortsResponse ports;
    if (!fresh_stub->ListPorts(Context().get(), {}, &ports).ok()) return false;
    for (const auto& p : ports.ports()) {
      if (p.id() == (*pa)->port_id()) return true;
    }
    return false;
  })) << "port "
      << (*pa)->port_id() << " was not resumed";
  auto pa2 = (*a)->OpenPort("session-b");
  ASSERT_TRUE(pa2.ok()) << pa2.status();
  auto pb2 = (*b)->AcceptPort(kBound);
  ASSERT_TRUE(pb2.ok()) << pb2.status();
  ExpectCarries(**pa2, **pb2, 3);
  ExpectCarries(**pa, **pb, 4);  // the port of the dead daemon still works
  FinishIntact(**ring);
  again->reset();
}

TEST(DaemonFaultTest, StoppedDaemonTimesOutControlCallsAndCatchesUpAfter) {
  auto daemon = DaemonProcess::Start();
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  auto stub = (*daemon)->NewStub();
  auto ring = WorkerRing::Start(stub.get(), RingOptions(4, 2));
  ASSERT_TRUE(ring.ok()) << ring.status();
  auto a = Session::Connect(SessionFor(**daemon, "session-a"));
  auto b = Session::Connect(SessionFor(**daemon, "session-b"));
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE((*ring)->AwaitRegistry(kBound).ok());

  ::kill((*daemon)->pid(), SIGSTOP);
  AwaitStopped((*daemon)->pid());
  // A control call ends at its bound; the data plane does not notice.
  EXPECT_EQ((*a)->OpenPort("session-b").status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(AllKeepReceiving(**ring, Reports(**ring), 20));
  // A worker dies while the daemon cannot look: its peers see the EOF by
  // themselves.
  const std::vector<WorkerReport> before = Reports(**ring);
  ASSERT_TRUE((*ring)->End(1, /*graceful=*/false).ok());
  for (int n : (*ring)->Neighbours(1)) {
    EXPECT_TRUE(Eventually([&] {
      return ReportOf(**ring, n).closed_by_peer > before[n].closed_by_peer;
    })) << (*ring)->name(n)
        << " never saw its port to the dead worker close";
  }

  ::kill((*daemon)->pid(), SIGCONT);
  // The daemon's pidfd for the dead worker fires: the registry catches up.
  absl::Status registry = (*ring)->AwaitRegistry(kBound);
  EXPECT_TRUE(registry.ok()) << registry;
  auto port = (*a)->OpenPort("session-b");
  ASSERT_TRUE(port.ok()) << port.status();
  ASSERT_TRUE((*ring)->Respawn(1).ok());
  registry = (*ring)->AwaitRegistry(kBound);
  EXPECT_TRUE(registry.ok()) << registry;
  FinishIntact(**ring);
}

// Random faults on workers, one at a time: SIGKILL, a graceful end, or a
// SIGSTOP long enough to block its peers, then SIGCONT. Small pools, so a
// stopped worker's peers run out of shared memory fast.
TEST(DaemonFaultTest, WorkersKilledEndedOrStoppedKeepTheRegistryExact) {
  auto daemon = DaemonProcess::Start();
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  auto stub = (*daemon)->NewStub();
  v1::GetStatsResponse stats;
  ASSERT_TRUE(stub->GetStats(Context().get(), {}, &stats).ok());
  const int idle_fds = CountOpenFds((*daemon)->pid());

  WorkerRingOptions options = RingOptions(6, 4);
  options.geometry.set_chunk_size(4096);
  options.geometry.set_chunk_count(16);
  options.geometry.set_max_segments(1);
  options.stream.messages_per_second = 100;
  options.stream.allocate_timeout = absl::Milliseconds(200);
  options.stream.send_timeout = absl::Milliseconds(500);
  auto ring = WorkerRing::Start(stub.get(), options);
  ASSERT_TRUE(ring.ok()) << ring.status();
  WorkerRing& r = **ring;
  ASSERT_TRUE(r.AwaitRegistry(kBound).ok());

  std::mt19937 rng(11);
  int kills = 0, ends = 0, stops = 0;
  for (int round = 0; round < 9; ++round) {
    const int i = static_cast<int>(rng() % r.size());
    const int action = round < 3 ? round : static_cast<int>(rng() % 3);
    SCOPED_TRACE(
        absl::StrCat("round ", round, ": action ", action, " on ", r.name(i)));
    // A random point in the streams: time passing is the input here (where
    // the fault lands), not a wait for anything.
    absl::SleepFor(absl::Milliseconds(rng() % 300));
    const std::vector<WorkerReport> before = Reports(r);
    if (action == 0 || action == 1) {
      action == 0 ? ++kills : ++ends;
      ASSERT_TRUE(r.End(i, /*graceful=*/action == 1).ok());
      for (int n : r.Neighbours(i)) {
        EXPECT_TRUE(Eventually([&] {
          return ReportOf(r, n).closed_by_peer > before[n].closed_by_peer;
        })) << r.name(n);
      }
      absl::Status registry = r.AwaitRegistry(kBound);
      ASSERT_TRUE(registry.ok()) << registry;
      ASSERT_TRUE(r.Respawn(i).ok());
    } else {
      ++stops;
      r.worker(i).Kill(SIGSTOP);
      AwaitStopped(r.worker(i).pid());
      // A stopped process is alive: the registry keeps it and its ports.
      EXPECT_TRUE(r.CheckRegistry().ok());
      // Its peers' bounded calls hit their bounds (their pools fill up).
      auto stalls = [&](int n) {
        const WorkerReport now = ReportOf(r, n);
        return now.allocate_stalls + now.send_stalls;
      };
      EXPECT_TRUE(Eventually([&] {
        for (int n : r.Neighbours(i)) {
          if (stalls(n) > before[n].allocate_stalls + before[n].send_stalls) {
            return true;
          }
        }
        return false;
      })) << "no peer of the stopped worker ever hit a bound";
      r.worker(i).Kill(SIGCONT);
      // It drains what piled up: its peers stream on, it does too.
      EXPECT_TRUE(AllKeepReceiving(r, Reports(r), 20));
    }
    absl::Status registry = r.AwaitRegistry(kBound);
    ASSERT_TRUE(registry.ok()) << registry;
    for (int n = 0; n < r.size(); ++n) ExpectIntact(ReportOf(r, n), r.name(n));
  }
  EXPECT_GT(kills, 0);
  EXPECT_GT(ends, 0);
  EXPECT_GT(stops, 0);
  FinishIntact(r);
  // With every worker gone the daemon is back to where it started.
  EXPECT_TRUE(Eventually([&] {
    stats.Clear();
    return stub->GetStats(Context().get(), {}, &stats).ok() &&
           stats.daemon().processes() == 0 && stats.daemon().ports() == 0 &&
           CountOpenFds((*daemon)->pid()) <= idle_fds;
  })) << stats.daemon().DebugString()
      << " fds " << CountOpenFds((*daemon)->pid()) << " (idle " << idle_fds
      << ")";
}

}  // namespace
}  // namespace shmport::testing
