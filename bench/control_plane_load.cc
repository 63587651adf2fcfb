// Control-plane load (acceptance 5): a real shmportd with 1,000 registered
// client processes and 10,000 ports. Measures Register + attach + OpenPort
// latency (p50/p99) and the daemon's memory and fds at that load.
//
//   bazel run -c opt //bench:control_plane_load -- [--processes=1000]
//       [--ports=10000] [--json]
//
// The clients are light forked processes (tests/control/light_process.h):
// this process registers on each one's behalf (Register names the child's
// pid), the child attaches its own broker link (the daemon checks the
// kernel's pid), and keeps every port fd it is handed. Each of the first
// --processes samples times the whole sequence for one new process:
// Register, attach, and its first OpenPort. The remaining ports are opened
// afterwards and timed alone.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "tests/control/daemon_process.h"
#include "tests/control/light_process.h"
#include "tests/control/raw_client.h"
#include "tests/util/process_census.h"

ABSL_FLAG(int, processes, 1000, "client processes to register");
ABSL_FLAG(int, ports, 10000, "ports to open among them");
ABSL_FLAG(bool, json, false, "print one JSON object instead of a table");

namespace {

namespace v1 = ::shmport::v1;
using shmport::testing::Context;
using shmport::testing::DaemonProcess;
using shmport::testing::Describe;
using shmport::testing::LightProcess;
using shmport::testing::ProcStatusBytes;

struct Percentiles {
  double p50_us = 0, p99_us = 0, max_us = 0;
};

Percentiles Summarise(std::vector<absl::Duration> samples) {
  Percentiles p;
  if (samples.empty()) return p;
  std::sort(samples.begin(), samples.end());
  auto at = [&](double q) {
    const size_t i =
        std::min(samples.size() - 1, static_cast<size_t>(q * samples.size()));
    return absl::ToDoubleMicroseconds(samples[i]);
  };
  p.p50_us = at(0.50);
  p.p99_us = at(0.99);
  p.max_us = absl::ToDoubleMicroseconds(samples.back());
  return p;
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "control_plane_load: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int n = absl::GetFlag(FLAGS_processes);
  const int total_ports = absl::GetFlag(FLAGS_ports);
  if (n < 2 || total_ports < n) {
    return Fail("need --processes >= 2 and --ports >= --processes");
  }

  // Room for the load; everything else stays at the defaults.
  auto daemon = DaemonProcess::Start(
      {.config_text = absl::StrCat(
           "limits { max_processes: ", 2 * n, " max_ports: ", 2 * total_ports,
           " max_ports_per_process: ", 4 * (total_ports / n + 1),
           " registrations_per_second: 1000000 registration_burst: 1000000 "
           "} watcher_queue_limit: ",
           2 * (n + total_ports))});
  if (!daemon.ok()) return Fail(daemon.status().ToString());
  auto stub = (*daemon)->NewStub();
  const uint64_t rss_idle = ProcStatusBytes((*daemon)->pid(), "VmRSS");

  struct Client {
    std::unique_ptr<LightProcess> process;
    uint64_t id = 0;
    std::string token;
  };
  std::vector<Client> clients(n);
  for (Client& c : clients) {
    auto p = LightProcess::Fork();
    if (!p.ok()) return Fail(p.status().ToString());
    c.process = std::move(*p);
    if (absl::Status s = c.process->WarmUp(absl::Seconds(30)); !s.ok()) {
      return Fail(s.ToString());
    }
  }

  auto open_port = [&](int from, int to, absl::Duration* took) -> bool {
    v1::OpenPortRequest request;
    request.mutable_from()->set_id(clients[from].id);
    request.mutable_to()->set_id(clients[to].id);
    request.set_session_token(clients[from].token);
    v1::OpenPortResponse response;
    const absl::Time t0 = absl::Now();
    const grpc::Status s = stub->OpenPort(Context().get(), request, &response);
    *took = absl::Now() - t0;
    if (!s.ok()) Fail(absl::StrCat("OpenPort: ", Describe(s)));
    return s.ok();
  };

  // Phase 1: each new process registers, attaches, and opens its first
  // port (to the process before it): one sample of the whole sequence.
  std::vector<absl::Duration> sequence, register_attach, register_alone,
      open_alone;
  int opened = 0;
  for (int i = 0; i < n; ++i) {
    v1::RegisterRequest request;
    request.set_name(absl::StrCat("load-", i));
    request.set_pid(clients[i].process->pid());
    v1::RegisterResponse response;
    const absl::Time t0 = absl::Now();
    const grpc::Status s = stub->Register(Context().get(), request, &response);
    if (!s.ok()) return Fail(absl::StrCat("Register: ", Describe(s)));
    register_alone.push_back(absl::Now() - t0);
    clients[i].id = response.process_id();
    clients[i].token = response.session_token();
    if (absl::Status a =
            clients[i].process->Attach(response.broker_address(), clients[i].id,
                                       clients[i].token, absl::Seconds(30));
        !a.ok()) {
      return Fail(a.ToString());
    }
    const absl::Duration attached = absl::Now() - t0;
    register_attach.push_back(attached);
    if (i > 0) {
      absl::Duration took;
      if (!open_port(i, i - 1, &took)) return 1;
      sequence.push_back(attached + took);
      ++opened;
    }
  }
  // Phase 2: the remaining ports, spread evenly, timed alone.
  for (int k = 0; opened < total_ports; ++k) {
    const int from = k % n;
    const int to = (from + 2 + k / n) % n;
    if (to == from) continue;
    absl::Duration took;
    if (!open_port(from, to, &took)) return 1;
    open_alone.push_back(took);
    ++opened;
  }

  // Every end reached its process.
  uint64_t ends = 0;
  for (Client& c : clients) {
    auto counts = c.process->AwaitCounts(0, 0, absl::Seconds(30));
    if (!counts.ok()) return Fail(counts.status().ToString());
    ends += counts->opened;
  }
  v1::GetStatsResponse stats;
  if (grpc::Status s = stub->GetStats(Context().get(), {}, &stats); !s.ok()) {
    return Fail(Describe(s));
  }
  const uint64_t rss = ProcStatusBytes((*daemon)->pid(), "VmRSS");
  const uint64_t hwm = ProcStatusBytes((*daemon)->pid(), "VmHWM");
  const v1::DaemonStats& d = stats.daemon();

  // Liveness at scale: kill every client at once and time until the
  // registry is empty (the daemon learns of each by pidfd / link EOF).
  // The snapshot (include_existing) proves the watch is live first.
  grpc::ClientContext watch_context;
  v1::WatchEventsRequest watch_request;
  watch_request.set_include_existing(true);
  auto watch = stub->WatchEvents(&watch_context, watch_request);
  v1::Event event;
  for (uint64_t i = 0; i < d.processes() + d.ports(); ++i) {
    if (!watch->Read(&event)) return Fail("the watch ended early");
  }
  const absl::Time killed_at = absl::Now();
  for (Client& c : clients) ::kill(c.process->pid(), SIGKILL);
  int exited = 0;
  while (exited < n && watch->Read(&event)) {
    if (event.kind() == v1::Event::PROCESS_EXITED) ++exited;
  }
  const absl::Duration all_gone = absl::Now() - killed_at;
  watch_context.TryCancel();
  for (Client& c : clients) c.process->Kill(SIGKILL);  // reap

  const Percentiles seq = Summarise(sequence);
  const Percentiles reg = Summarise(register_attach);
  const Percentiles reg_rpc = Summarise(register_alone);
  const Percentiles open = Summarise(open_alone);
  if (absl::GetFlag(FLAGS_json)) {
    std::printf(
        "{\"processes\": %u, \"ports\": %u, \"port_ends_delivered\": %llu, "
        "\"register_attach_open_p50_us\": %.1f, "
        "\"register_attach_open_p99_us\": %.1f, "
        "\"register_attach_p50_us\": %.1f, \"register_attach_p99_us\": %.1f, "
        "\"register_p50_us\": %.1f, \"register_p99_us\": %.1f, "
        "\"open_port_p50_us\": %.1f, \"open_port_p99_us\": %.1f, "
        "\"daemon_rss_bytes\": %llu, \"daemon_peak_rss_bytes\": %llu, "
        "\"daemon_idle_rss_bytes\": %llu, \"daemon_open_fds\": %u, "
        "\"all_killed_to_empty_ms\": %.1f}\n",
        d.processes(), d.ports(), static_cast<unsigned long long>(ends),
        seq.p50_us, seq.p99_us, reg.p50_us, reg.p99_us, reg_rpc.p50_us,
        reg_rpc.p99_us, open.p50_us, open.p99_us,
        static_cast<unsigned long long>(rss),
        static_cast<unsigned long long>(hwm),
        static_cast<unsigned long long>(rss_idle), d.open_fds(),
        absl::ToDoubleMilliseconds(all_gone));
  } else {
    std::printf(
        "shmportd under load: %u processes, %u ports (%llu port ends "
        "delivered)\n",
        d.processes(), d.ports(), static_cast<unsigned long long>(ends));
    std::printf("  %-32s %10s %10s %10s\n", "latency (us)", "p50", "p99",
                "max");
    std::printf("  %-32s %10.1f %10.1f %10.1f\n", "Register+attach+OpenPort",
                seq.p50_us, seq.p99_us, seq.max_us);
    std::printf("  %-32s %10.1f %10.1f %10.1f\n", "Register+attach", reg.p50_us,
                reg.p99_us, reg.max_us);
    std::printf("  %-32s %10.1f %10.1f %10.1f\n", "Register (RPC alone)",
                reg_rpc.p50_us, reg_rpc.p99_us, reg_rpc.max_us);
    std::printf("  %-32s %10.1f %10.1f %10.1f\n", "OpenPort (at load)",
                open.p50_us, open.p99_us, open.max_us);
    std::printf(
        "  daemon RSS: %.1f MiB at load (peak %.1f MiB, idle %.1f "
        "MiB); %u open fds\n",
        rss / 1048576.0, hwm / 1048576.0, rss_idle / 1048576.0, d.open_fds());
    std::printf("  all %d clients SIGKILLed -> registry empty: %.1f ms\n", n,
                absl::ToDoubleMilliseconds(all_gone));
  }
  return exited == n ? 0 : Fail("not every client's exit was seen");
}
