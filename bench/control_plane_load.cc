// Control-plane load and scale (issue 16): a real shmportd with --processes
// registered client processes and --ports ports among them. Measures
// Register + attach + OpenPort latency (p50/p99), the daemon's memory and
// fds at that load, the latency of the whole-registry queries (ListPorts,
// ListProcesses, GetStats), and how long the daemon takes to notice and
// clean up --deaths clients SIGKILLed at once.
//
//   bazel run -c opt //bench:control_plane_load -- [--processes=200]
//       [--ports=2000] [--deaths=100] [--json]
//   make bench-scale      the issue-16 size: 10,000 / 100,000 / 1,000
//
// The clients are light forked processes (tests/control/light_process.h):
// this process registers on each one's behalf (Register names the child's
// pid), the child attaches its own broker link (the daemon checks the
// kernel's pid), and keeps every port fd it is handed. Each of the first
// --processes samples times the whole sequence for one new process:
// Register, attach, and its first OpenPort. The remaining ports are opened
// afterwards and timed alone. The --deaths victims share one process group,
// so one killpg(SIGKILL) ends them together.
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "shmport/unique_fd.h"
#include "tests/control/daemon_process.h"
#include "tests/control/light_process.h"
#include "tests/control/raw_client.h"
#include "tests/util/process_census.h"

ABSL_FLAG(int, processes, 200, "client processes to register");
ABSL_FLAG(int, ports, 2000, "ports to open among them");
ABSL_FLAG(int, deaths, 100,
          "clients SIGKILLed at once to time the daemon's cleanup");
ABSL_FLAG(int, query_samples, 10,
          "calls of each whole-registry query (ListPorts, ...) timed at load");
ABSL_FLAG(bool, control_connections, true,
          "each client also holds an idle control (HTTP/2) connection, as a "
          "Session's gRPC channel does");
ABSL_FLAG(bool, json, false, "print one JSON object instead of a table");

namespace {

namespace v1 = ::shmport::v1;
using shmport::UniqueFd;
using shmport::testing::Context;
using shmport::testing::CountOpenFds;
using shmport::testing::DaemonProcess;
using shmport::testing::Describe;
using shmport::testing::LightProcess;
using shmport::testing::ProcStatusBytes;
using Stub = v1::ControlPlane::Stub;

struct Sizes {
  int processes = 0;
  int ports = 0;
  int deaths = 0;
  int query_samples = 0;
  bool control_connections = false;
};

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

struct Client {
  std::unique_ptr<LightProcess> process;
  uint64_t id = 0;
  std::string token;
};

// Everything the run measured.
struct Results {
  std::vector<absl::Duration> sequence, register_attach, register_alone,
      open_alone, list_ports, list_ports_one, list_processes, get_stats,
      list_ports_page, get_stats_page;
  int list_ports_pages = 0, get_stats_pages = 0;
  uint64_t ends = 0;  // PortOpened notices the clients received
  uint32_t processes = 0, ports = 0;
  uint64_t rss = 0, hwm = 0, rss_idle = 0;
  uint32_t daemon_fds = 0;       // DaemonStats.open_fds
  size_t get_stats_bytes = 0;    // GetStats' pages, encoded, together
  int proc_fds = 0;              // /proc/<daemon>/fd
  absl::Duration deaths_exited;  // killpg -> every victim's pidfd readable
  absl::Duration deaths_gone;    // killpg -> ListProcesses without them
  uint32_t after_deaths_processes = 0, after_deaths_ports = 0;
  absl::Duration all_gone;  // the rest killed -> registry empty
  double seconds_setup = 0;
};

// The daemon holds 2 fds per attached process (its broker link and a
// pidfd) and 2 per control connection, plus ~20 of its own (sockets,
// epoll, eventfds, stdio, this bench's channel); it inherits this
// process's limit and raises its soft limit to the hard one. This process
// holds 1 per client and a pidfd per victim. As root with CAP_SYS_RESOURCE
// the hard limit grows here; otherwise it bounds the load (a hard limit of
// 20,000 admits 9,980 processes without control connections).
absl::Status RaiseFdLimit(const Sizes& s) {
  const rlim_t need =
      2 * static_cast<rlim_t>(s.processes) * (s.control_connections ? 2 : 1) +
      32;
  rlimit limit;
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return absl::InternalError("getrlimit(RLIMIT_NOFILE) failed");
  }
  if (limit.rlim_max < need) {
    rlimit raised = {need, need};
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrCat(
        "the daemon needs RLIMIT_NOFILE >= ", need, " for ", s.processes,
        " processes (2 fds each, 2 more per control connection), but the "
        "hard limit is ",
        limit.rlim_max,
        " and cannot be raised here (no CAP_SYS_RESOURCE): raise it "
        "(ulimit -Hn, systemd LimitNOFILE=), or run fewer --processes or "
        "--control_connections=false"));
  }
  limit.rlim_cur = limit.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return absl::InternalError("setrlimit(RLIMIT_NOFILE) failed");
  }
  return absl::OkStatus();
}

// Room for the load; everything else stays at the defaults.
std::string DaemonConfig(const Sizes& s) {
  const int per_process = 4 * (s.ports / s.processes + 1);
  return absl::StrCat(
      "connections { max_control_connections_per_uid: ", s.processes + 256,
      " max_control_connections: ", s.processes + 512,
      " } limits { max_processes: ", 2 * s.processes,
      " max_processes_per_uid: ", 2 * s.processes, " max_ports: ", 2 * s.ports,
      " max_ports_per_process: ", per_process,
      " max_incoming_ports_per_process: ", per_process,
      " registrations_per_second: 1000000 registration_burst: 1000000 }");
}

// Forks the clients; the first `deaths` join one process group (led by the
// first), which killpg ends at once.
absl::StatusOr<pid_t> ForkClients(const Sizes& s, const DaemonProcess& daemon,
                                  std::vector<Client>& out) {
  absl::string_view control_socket = daemon.address();
  absl::ConsumePrefix(&control_socket, "unix:");
  out.resize(s.processes);
  pid_t group = 0;
  for (int i = 0; i < s.processes; ++i) {
    auto p = LightProcess::Fork();
    if (!p.ok()) return p.status();
    out[i].process = std::move(*p);
    if (i < s.deaths) {
      const pid_t pid = out[i].process->pid();
      if (::setpgid(pid, group == 0 ? pid : group) != 0) {
        return absl::InternalError(absl::StrCat("setpgid(", pid, ") failed"));
      }
      if (group == 0) group = pid;
    }
    if (absl::Status st = out[i].process->WarmUp(absl::Seconds(30)); !st.ok()) {
      return st;
    }
    if (!s.control_connections) continue;
    if (absl::Status st = out[i].process->HoldControlConnection(
            std::string(control_socket), absl::Seconds(30));
        !st.ok()) {
      return st;
    }
  }
  return group;
}

absl::Status OpenPort(Stub& stub, const Client& from, const Client& to,
                      absl::Duration* took) {
  v1::OpenPortRequest request;
  request.mutable_from()->set_id(from.id);
  request.mutable_to()->set_id(to.id);
  request.set_session_token(from.token);
  v1::OpenPortResponse response;
  const absl::Time t0 = absl::Now();
  const grpc::Status s = stub.OpenPort(Context().get(), request, &response);
  *took = absl::Now() - t0;
  if (!s.ok()) return absl::UnavailableError("OpenPort: " + Describe(s));
  return absl::OkStatus();
}

// Phase 1: each new process registers, attaches, and opens its first port
// (to the process before it): one sample of the whole sequence.
absl::Status RegisterAll(Stub& stub, std::vector<Client>& clients, Results& r) {
  for (size_t i = 0; i < clients.size(); ++i) {
    v1::RegisterRequest request;
    request.set_name(absl::StrCat("load-", i));
    request.set_pid(clients[i].process->pid());
    v1::RegisterResponse response;
    const absl::Time t0 = absl::Now();
    const grpc::Status s = stub.Register(Context().get(), request, &response);
    if (!s.ok()) return absl::UnavailableError("Register: " + Describe(s));
    r.register_alone.push_back(absl::Now() - t0);
    clients[i].id = response.process_id();
    clients[i].token = response.session_token();
    if (absl::Status a =
            clients[i].process->Attach(response.broker_address(), clients[i].id,
                                       clients[i].token, absl::Seconds(30));
        !a.ok()) {
      return a;
    }
    const absl::Duration attached = absl::Now() - t0;
    r.register_attach.push_back(attached);
    if (i == 0) continue;
    absl::Duration took;
    if (absl::Status o = OpenPort(stub, clients[i], clients[i - 1], &took);
        !o.ok()) {
      return o;
    }
    r.sequence.push_back(attached + took);
  }
  return absl::OkStatus();
}

// Phase 2: the remaining ports, spread evenly, timed alone.
absl::Status OpenRemaining(Stub& stub, const std::vector<Client>& clients,
                           int total_ports, Results& r) {
  const int n = static_cast<int>(clients.size());
  int opened = n - 1;
  for (int k = 0; opened < total_ports; ++k) {
    const int from = k % n;
    const int to = (from + 2 + k / n) % n;
    if (to == from) continue;
    absl::Duration took;
    if (absl::Status s = OpenPort(stub, clients[from], clients[to], &took);
        !s.ok()) {
      return s;
    }
    r.open_alone.push_back(took);
    ++opened;
  }
  return absl::OkStatus();
}

// Calls a paged method from its first page to its last: the time of the
// whole walk into `walks`, of each page into `pages` (when not null), the
// page count into `page_count`, the answers' encoded bytes into `bytes`.
template <typename Request, typename Response>
absl::Status WalkPages(Stub& stub,
                       grpc::Status (Stub::*method)(grpc::ClientContext*,
                                                    const Request&, Response*),
                       Request request, std::vector<absl::Duration>& walks,
                       std::vector<absl::Duration>* pages,
                       int* page_count = nullptr, size_t* bytes = nullptr) {
  const absl::Time start = absl::Now();
  int count = 0;
  size_t total = 0;
  for (;; ++count) {
    Response response;
    const absl::Time t0 = absl::Now();
    const grpc::Status s = (stub.*method)(Context().get(), request, &response);
    if (pages != nullptr) pages->push_back(absl::Now() - t0);
    if (!s.ok()) return absl::UnavailableError(Describe(s));
    total += response.ByteSizeLong();
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  walks.push_back(absl::Now() - start);
  if (page_count != nullptr) *page_count = count + 1;
  if (bytes != nullptr) *bytes = total;
  return absl::OkStatus();
}

// The whole-registry queries an operator's tools make, at load, each
// walked over all its pages.
absl::Status TimeQueries(Stub& stub, const Sizes& s, uint64_t one_id,
                         Results& r) {
  absl::Status status;
  v1::ListPortsRequest of_one;
  of_one.set_process_id(one_id);
  for (int i = 0; i < s.query_samples && status.ok(); ++i) {
    status.Update(WalkPages(stub, &Stub::ListPorts, v1::ListPortsRequest(),
                            r.list_ports, &r.list_ports_page,
                            &r.list_ports_pages));
    status.Update(
        WalkPages(stub, &Stub::ListPorts, of_one, r.list_ports_one, nullptr));
    status.Update(WalkPages(stub, &Stub::ListProcesses,
                            v1::ListProcessesRequest(), r.list_processes,
                            nullptr));
    status.Update(WalkPages(stub, &Stub::GetStats, v1::GetStatsRequest(),
                            r.get_stats, &r.get_stats_page, &r.get_stats_pages,
                            &r.get_stats_bytes));
  }
  return status;
}

absl::StatusOr<v1::GetStatusResponse> GetStatus(Stub& stub) {
  v1::GetStatusResponse status;
  if (grpc::Status s = stub.GetStatus(Context().get(), {}, &status); !s.ok()) {
    return absl::UnavailableError("GetStatus: " + Describe(s));
  }
  return status;
}

// Whether ListProcesses (all its pages) lists any of `ids`.
absl::StatusOr<bool> AnyListed(Stub& stub,
                               const absl::flat_hash_set<uint64_t>& ids) {
  v1::ListProcessesRequest request;
  for (;;) {
    v1::ListProcessesResponse list;
    if (grpc::Status s = stub.ListProcesses(Context().get(), request, &list);
        !s.ok()) {
      return absl::UnavailableError("ListProcesses: " + Describe(s));
    }
    for (const v1::ProcessInfo& p : list.processes()) {
      if (ids.contains(p.id())) return true;
    }
    if (list.next_page_token().empty()) return false;
    request.set_page_token(list.next_page_token());
  }
}

// After a kill: polls GetStatus (cheap) until `remaining` processes are
// left, then asks ListProcesses, until it lists none of `gone`. Returns the
// time from `killed_at`.
absl::StatusOr<absl::Duration> AwaitGone(
    Stub& stub, uint32_t remaining, const absl::flat_hash_set<uint64_t>& gone,
    absl::Time killed_at) {
  const absl::Time deadline = killed_at + absl::Minutes(5);
  while (absl::Now() < deadline) {
    absl::StatusOr<v1::GetStatusResponse> status = GetStatus(stub);
    if (!status.ok()) return status.status();
    if (status->processes() > remaining) {
      absl::SleepFor(absl::Milliseconds(1));
      continue;
    }
    absl::StatusOr<bool> any = AnyListed(stub, gone);
    if (!any.ok()) return any.status();
    if (!*any) return absl::Now() - killed_at;
  }
  return absl::DeadlineExceededError(
      "killed clients still listed after 5 minutes");
}

// Pidfds of the first `n` clients, to see when the kernel has ended them.
absl::StatusOr<std::vector<UniqueFd>> PidFds(const std::vector<Client>& clients,
                                             int n) {
  std::vector<UniqueFd> fds;
  for (int i = 0; i < n; ++i) {
    const int fd = static_cast<int>(
        ::syscall(SYS_pidfd_open, clients[i].process->pid(), 0));
    if (fd < 0) return absl::InternalError("pidfd_open failed");
    fds.emplace_back(fd);
  }
  return fds;
}

// Waits until every pidfd is readable (its process has exited).
void AwaitExits(std::vector<UniqueFd>& fds) {
  std::vector<pollfd> waiting;
  for (const UniqueFd& fd : fds) waiting.push_back({fd.get(), POLLIN, 0});
  while (!waiting.empty()) {
    if (::poll(waiting.data(), waiting.size(), 1000) <= 0) continue;
    std::erase_if(waiting, [](const pollfd& p) { return p.revents != 0; });
  }
}

// Kills the victims' process group, then every other client.
absl::Status KillAndAwait(Stub& stub, const std::vector<Client>& clients,
                          const Sizes& s, pid_t group, Results& r) {
  absl::flat_hash_set<uint64_t> victims;
  for (int i = 0; i < s.deaths; ++i) victims.insert(clients[i].id);
  if (s.deaths > 0) {
    absl::StatusOr<std::vector<UniqueFd>> pidfds = PidFds(clients, s.deaths);
    if (!pidfds.ok()) return pidfds.status();
    const absl::Time killed_at = absl::Now();
    if (::killpg(group, SIGKILL) != 0) {
      return absl::InternalError("killpg(victims) failed");
    }
    AwaitExits(*pidfds);
    r.deaths_exited = absl::Now() - killed_at;
    absl::StatusOr<absl::Duration> took =
        AwaitGone(stub, s.processes - s.deaths, victims, killed_at);
    if (!took.ok()) return took.status();
    r.deaths_gone = *took;
    absl::StatusOr<v1::GetStatusResponse> after = GetStatus(stub);
    if (!after.ok()) return after.status();
    r.after_deaths_processes = after->processes();
    r.after_deaths_ports = after->ports();
  }
  absl::flat_hash_set<uint64_t> rest;
  for (size_t i = s.deaths; i < clients.size(); ++i) {
    rest.insert(clients[i].id);
  }
  const absl::Time killed_at = absl::Now();
  for (size_t i = s.deaths; i < clients.size(); ++i) {
    clients[i].process->Kill(SIGKILL);
  }
  absl::StatusOr<absl::Duration> took = AwaitGone(stub, 0, rest, killed_at);
  if (!took.ok()) return took.status();
  r.all_gone = *took;
  return absl::OkStatus();
}

// The measurements at full load: delivered ends, counts, memory, fds.
absl::Status Census(Stub& stub, const DaemonProcess& daemon,
                    std::vector<Client>& clients, Results& r) {
  for (Client& c : clients) {
    auto counts = c.process->AwaitCounts(0, 0, absl::Seconds(30));
    if (!counts.ok()) return counts.status();
    r.ends += counts->opened;
  }
  v1::GetStatsRequest first_page;
  first_page.set_page_size(1);  // the counters, and one port
  v1::GetStatsResponse stats;
  if (grpc::Status s = stub.GetStats(Context().get(), first_page, &stats);
      !s.ok()) {
    return absl::UnavailableError("GetStats: " + Describe(s));
  }
  r.rss = ProcStatusBytes(daemon.pid(), "VmRSS");
  r.hwm = ProcStatusBytes(daemon.pid(), "VmHWM");
  r.proc_fds = CountOpenFds(daemon.pid());
  r.processes = stats.daemon().processes();
  r.ports = stats.daemon().ports();
  r.daemon_fds = stats.daemon().open_fds();
  return absl::OkStatus();
}

absl::Status Run(const Sizes& s, Results& r) {
  if (absl::Status st = RaiseFdLimit(s); !st.ok()) {
    return st;
  }
  auto daemon = DaemonProcess::Start({.config_text = DaemonConfig(s)});
  if (!daemon.ok()) return daemon.status();
  // For a profiler to attach to (perf record -g -p PID).
  std::fprintf(stderr, "control_plane_load: shmportd is pid %d\n",
               (*daemon)->pid());
  // Default channel arguments (4 MiB answers): every page fits.
  std::unique_ptr<Stub> stub = (*daemon)->NewStub();
  r.rss_idle = ProcStatusBytes((*daemon)->pid(), "VmRSS");
  const absl::Time t0 = absl::Now();
  std::vector<Client> clients;
  absl::StatusOr<pid_t> group = ForkClients(s, **daemon, clients);
  if (!group.ok()) return group.status();
  if (absl::Status st = RegisterAll(*stub, clients, r); !st.ok()) return st;
  if (absl::Status st = OpenRemaining(*stub, clients, s.ports, r); !st.ok()) {
    return st;
  }
  r.seconds_setup = absl::ToDoubleSeconds(absl::Now() - t0);
  if (absl::Status st = Census(*stub, **daemon, clients, r); !st.ok()) {
    return st;
  }
  if (absl::Status st = TimeQueries(*stub, s, clients[s.processes / 2].id, r);
      !st.ok()) {
    return st;
  }
  return KillAndAwait(*stub, clients, s, *group, r);
}

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }
double MiB(uint64_t bytes) { return static_cast<double>(bytes) / 1048576.0; }

void PrintJson(const Sizes& s, const Results& r) {
  const Percentiles seq = Summarise(r.sequence);
  const Percentiles reg = Summarise(r.register_attach);
  const Percentiles rpc = Summarise(r.register_alone);
  const Percentiles open = Summarise(r.open_alone);
  const Percentiles lp = Summarise(r.list_ports);
  const Percentiles lp1 = Summarise(r.list_ports_one);
  const Percentiles lpr = Summarise(r.list_processes);
  const Percentiles gs = Summarise(r.get_stats);
  const Percentiles lpp = Summarise(r.list_ports_page);
  const Percentiles gsp = Summarise(r.get_stats_page);
  std::printf(
      "{\"processes\": %u, \"ports\": %u, \"port_ends_delivered\": %llu, "
      "\"register_attach_open_p50_us\": %.1f, "
      "\"register_attach_open_p99_us\": %.1f, "
      "\"register_attach_p50_us\": %.1f, \"register_attach_p99_us\": %.1f, "
      "\"register_p50_us\": %.1f, \"register_p99_us\": %.1f, "
      "\"open_port_p50_us\": %.1f, \"open_port_p99_us\": %.1f, "
      "\"list_ports_p50_us\": %.1f, \"list_ports_p99_us\": %.1f, "
      "\"list_ports_of_one_p50_us\": %.1f, "
      "\"list_ports_page_p50_us\": %.1f, \"list_ports_page_p99_us\": %.1f, "
      "\"list_ports_pages\": %d, "
      "\"list_processes_p50_us\": %.1f, \"get_stats_p50_us\": %.1f, "
      "\"get_stats_page_p50_us\": %.1f, \"get_stats_pages\": %d, "
      "\"get_stats_bytes\": %zu, "
      "\"daemon_rss_bytes\": %llu, \"daemon_peak_rss_bytes\": %llu, "
      "\"daemon_idle_rss_bytes\": %llu, \"daemon_open_fds\": %u, "
      "\"daemon_proc_fds\": %d, \"deaths\": %d, "
      "\"deaths_to_exited_ms\": %.1f, "
      "\"deaths_to_unlisted_ms\": %.1f, \"all_killed_to_empty_ms\": %.1f, "
      "\"setup_s\": %.1f}\n",
      r.processes, r.ports, static_cast<unsigned long long>(r.ends), seq.p50_us,
      seq.p99_us, reg.p50_us, reg.p99_us, rpc.p50_us, rpc.p99_us, open.p50_us,
      open.p99_us, lp.p50_us, lp.p99_us, lp1.p50_us, lpp.p50_us, lpp.p99_us,
      r.list_ports_pages, lpr.p50_us, gs.p50_us, gsp.p50_us, r.get_stats_pages,
      r.get_stats_bytes, static_cast<unsigned long long>(r.rss),
      static_cast<unsigned long long>(r.hwm),
      static_cast<unsigned long long>(r.rss_idle), r.daemon_fds, r.proc_fds,
      s.deaths, Ms(r.deaths_exited), Ms(r.deaths_gone), Ms(r.all_gone),
      r.seconds_setup);
}

void PrintRow(const char* what, const std::vector<absl::Duration>& samples) {
  const Percentiles p = Summarise(samples);
  std::printf("  %-34s %10.1f %10.1f %10.1f %8zu\n", what, p.p50_us, p.p99_us,
              p.max_us, samples.size());
}

void PrintTable(const Sizes& s, const Results& r) {
  std::printf(
      "shmportd under load: %u processes, %u ports (%llu port ends "
      "delivered; set up in %.1f s)\n",
      r.processes, r.ports, static_cast<unsigned long long>(r.ends),
      r.seconds_setup);
  std::printf("  %-34s %10s %10s %10s %8s\n", "latency (us)", "p50", "p99",
              "max", "samples");
  PrintRow("Register+attach+OpenPort", r.sequence);
  PrintRow("Register+attach", r.register_attach);
  PrintRow("Register (RPC alone)", r.register_alone);
  PrintRow("OpenPort (at load)", r.open_alone);
  PrintRow("ListPorts (every page)", r.list_ports);
  PrintRow("ListPorts (one page)", r.list_ports_page);
  PrintRow("ListPorts (one process)", r.list_ports_one);
  PrintRow("ListProcesses (every page)", r.list_processes);
  PrintRow("GetStats (every page)", r.get_stats);
  PrintRow("GetStats (one page)", r.get_stats_page);
  std::printf(
      "  every port: %d ListPorts pages; GetStats %d pages, %.1f MiB in "
      "all\n",
      r.list_ports_pages, r.get_stats_pages, MiB(r.get_stats_bytes));
  std::printf(
      "  daemon RSS: %.1f MiB at load (peak %.1f MiB, idle %.1f MiB); "
      "%u open fds (/proc: %d)\n",
      MiB(r.rss), MiB(r.hwm), MiB(r.rss_idle), r.daemon_fds, r.proc_fds);
  if (s.deaths > 0) {
    std::printf(
        "  %d clients SIGKILLed at once -> all exited (kernel): %.1f ms; "
        "none in ListProcesses: %.1f ms (left: %u processes, %u ports)\n",
        s.deaths, Ms(r.deaths_exited), Ms(r.deaths_gone),
        r.after_deaths_processes, r.after_deaths_ports);
  }
  std::printf("  the other %d SIGKILLed -> registry empty: %.1f ms\n",
              s.processes - s.deaths, Ms(r.all_gone));
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // As shmportd does (server/main.cc): no lock-order graph on gRPC's locks.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  const Sizes s{
      .processes = absl::GetFlag(FLAGS_processes),
      .ports = absl::GetFlag(FLAGS_ports),
      .deaths = absl::GetFlag(FLAGS_deaths),
      .query_samples = absl::GetFlag(FLAGS_query_samples),
      .control_connections = absl::GetFlag(FLAGS_control_connections)};
  if (s.processes < 2 || s.ports < s.processes || s.deaths < 0 ||
      s.deaths >= s.processes || s.query_samples < 1) {
    std::fprintf(stderr,
                 "control_plane_load: need --processes >= 2, --ports >= "
                 "--processes, 0 <= --deaths < --processes and "
                 "--query_samples >= 1\n");
    return 2;
  }
  Results r;
  if (absl::Status st = Run(s, r); !st.ok()) {
    std::fprintf(stderr, "control_plane_load: %s\n", st.ToString().c_str());
    return 1;
  }
  if (absl::GetFlag(FLAGS_json)) {
    PrintJson(s, r);
  } else {
    PrintTable(s, r);
  }
  return 0;
}
