#include "cli/shmportctl.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "cli/command_line.h"
#include "cli/control_connection.h"
#include "cli/human_units.h"
#include "cli/json.h"
#include "cli/json_schema.h"
#include "cli/terminal.h"
#include "cli/top_sampler.h"
#include "cli/topic_views.h"
#include "cli/traffic.h"
#include "cli/views.h"
#include "common/paths/runtime_paths.h"
#include "shmport/v1/control.grpc.pb.h"

namespace shmport::cli {
namespace {

using Kind = FlagSpec::Kind;

// What a subcommand gets to work with.
struct Invocation {
  const ParsedArgs& args;
  const ControlConnection& connection;
  const Io& io;
  StopSignal& stop;
  bool json = false;
};

struct Command {
  std::string name;
  std::string arguments;  // synopsis after the name: "FROM TO"
  std::string summary;    // one line, for the command list
  std::string details;    // the paragraph of `shmportctl NAME --help`
  std::vector<FlagSpec> flags;
  size_t min_args = 0;
  size_t max_args = 0;
  absl::Status (*run)(Invocation&) = nullptr;
  // Checks the arguments before anything is sent; a failure is a usage
  // error (exit 2). Optional.
  absl::Status (*check)(const ParsedArgs&) = nullptr;
};

const std::vector<FlagSpec>& GlobalFlags() {
  static const auto* flags = new std::vector<FlagSpec>{
      {"address", Kind::kString, "ADDR",
       "the daemon's gRPC address (default: $SHMPORT_ADDRESS, else "
       "unix:$XDG_RUNTIME_DIR/shmport/control.sock, else "
       "unix:/tmp/shmport-$UID/control.sock)"},
      {"runtime-dir", Kind::kString, "DIR",
       "where the daemon keeps admin.token, if not next to its socket"},
      {"json", Kind::kBool, "",
       "print JSON (schema: docs/operations.md) instead of tables"},
      {"timeout", Kind::kDuration, "DURATION",
       "bound on each call to the daemon (default 5s)"},
      {"help", Kind::kBool, "", "show help (also -h)"},
  };
  return *flags;
}

void Print(const Io& io, absl::string_view text) {
  std::fwrite(text.data(), 1, text.size(), io.out);
  std::fflush(io.out);
}

void PrintJson(const Invocation& inv, const Json& json) {
  Print(inv.io, absl::StrCat(json.Serialize(), "\n"));
}

// Makes one unary call with the invocation's deadline (and the admin token
// when `as_admin`) and explains a failure.
template <typename Request, typename Response>
absl::Status Call(const Invocation& inv,
                  grpc::Status (v1::ControlPlane::Stub::*method)(
                      grpc::ClientContext*, const Request&, Response*),
                  const Request& request, Response* response,
                  bool as_admin = false) {
  absl::StatusOr<std::unique_ptr<grpc::ClientContext>> context =
      inv.connection.NewContext(as_admin);
  if (!context.ok()) return context.status();
  return inv.connection.Explain(
      (inv.connection.stub().*method)(context->get(), request, response));
}

// Makes a paged call (ListProcesses, ListPorts, GetStats) page by page
// until the last, moving each page's entries (`entries(page)`, a repeated
// field) into `all`; `all`'s other fields are the first page's. A daemon
// from before paging answers with one page and no token.
template <typename Request, typename Response, typename Entries>
absl::Status CallEveryPage(const Invocation& inv,
                           grpc::Status (v1::ControlPlane::Stub::*method)(
                               grpc::ClientContext*, const Request&, Response*),
                           Request request, Response* all, Entries entries) {
  for (bool first = true;; first = false) {
    Response page;
    if (absl::Status s = Call(inv, method, request, &page); !s.ok()) return s;
    if (first) {
      *all = std::move(page);
    } else {
      for (auto& entry : *entries(page)) entries(*all)->Add(std::move(entry));
    }
    const std::string& next =
        first ? all->next_page_token() : page.next_page_token();
    if (next.empty()) break;
    if (next == request.page_token()) {
      return absl::InternalError(absl::StrCat(
          "shmportd gave page_token '", next, "' twice; its list never ends"));
    }
    request.set_page_token(next);
  }
  all->clear_next_page_token();
  return absl::OkStatus();
}

absl::Status ListAllProcesses(const Invocation& inv,
                              v1::ListProcessesResponse* all) {
  return CallEveryPage(inv, &v1::ControlPlane::Stub::ListProcesses,
                       v1::ListProcessesRequest(), all,
                       [](auto& r) { return r.mutable_processes(); });
}

absl::Status ListAllPorts(const Invocation& inv, v1::ListPortsRequest request,
                          v1::ListPortsResponse* all) {
  return CallEveryPage(inv, &v1::ControlPlane::Stub::ListPorts,
                       std::move(request), all,
                       [](auto& r) { return r.mutable_ports(); });
}

// "router" or "7" (a string of digits is a process id, as in
// Session::OpenPort).
v1::ProcessRef RefOf(absl::string_view name_or_id) {
  v1::ProcessRef ref;
  uint64_t id = 0;
  if (!name_or_id.empty() &&
      std::all_of(name_or_id.begin(), name_or_id.end(), absl::ascii_isdigit) &&
      absl::SimpleAtoi(name_or_id, &id)) {
    ref.set_id(id);
  } else {
    ref.set_name(std::string(name_or_id));
  }
  return ref;
}

// --- status ---------------------------------------------------------------

absl::Status RunStatus(Invocation& inv) {
  v1::GetStatusResponse status;
  if (absl::Status s = Call(inv, &v1::ControlPlane::Stub::GetStatus,
                            v1::GetStatusRequest(), &status);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::string> health = inv.connection.CheckHealth();
  if (!health.ok()) return health.status();
  if (inv.json) {
    PrintJson(inv, StatusJson(status).Set("health", *health));
  } else {
    Print(inv.io, StatusView(status, *health));
  }
  return absl::OkStatus();
}

// --- ps -------------------------------------------------------------------

absl::Status RunPs(Invocation& inv) {
  v1::ListProcessesResponse processes;
  if (absl::Status s = ListAllProcesses(inv, &processes); !s.ok()) {
    return s;
  }
  std::sort(processes.mutable_processes()->begin(),
            processes.mutable_processes()->end(),
            [](const auto& x, const auto& y) { return x.id() < y.id(); });
  if (inv.json) {
    Json list = Json::Array();
    for (const v1::ProcessInfo& p : processes.processes()) {
      list.Append(ProcessJson(p));
    }
    PrintJson(inv, Json::Object().Set("processes", std::move(list)));
  } else {
    Print(inv.io, ProcessTable(processes, absl::Now()));
  }
  return absl::OkStatus();
}

// --- ports ----------------------------------------------------------------

// The id of the process named by --process (a name or an id).
absl::StatusOr<uint64_t> ResolveProcess(const Invocation& inv,
                                        absl::string_view name_or_id) {
  const v1::ProcessRef ref = RefOf(name_or_id);
  v1::ListProcessesResponse processes;
  if (absl::Status s = ListAllProcesses(inv, &processes); !s.ok()) {
    return s;
  }
  for (const v1::ProcessInfo& p : processes.processes()) {
    if (ref.has_name() ? p.name() == ref.name() : p.id() == ref.id()) {
      return p.id();
    }
  }
  return absl::NotFoundError(
      absl::StrCat("no live process ",
                   ref.has_name() ? absl::StrCat("named '", ref.name(), "'")
                                  : absl::StrCat("with id ", ref.id()),
                   " (see `shmportctl ps`)"));
}

absl::Status RunPorts(Invocation& inv) {
  v1::ListPortsRequest request;
  if (inv.args.Has("process")) {
    absl::StatusOr<uint64_t> id =
        ResolveProcess(inv, inv.args.GetString("process"));
    if (!id.ok()) return id.status();
    request.set_process_id(*id);
  }
  v1::ListPortsResponse ports;
  if (absl::Status s = ListAllPorts(inv, std::move(request), &ports); !s.ok()) {
    return s;
  }
  std::sort(ports.mutable_ports()->begin(), ports.mutable_ports()->end(),
            [](const auto& x, const auto& y) { return x.id() < y.id(); });
  if (inv.json) {
    Json list = Json::Array();
    for (const v1::PortInfo& p : ports.ports()) list.Append(PortJson(p));
    PrintJson(inv, Json::Object().Set("ports", std::move(list)));
  } else {
    Print(inv.io, PortTable(ports.ports()));
  }
  return absl::OkStatus();
}

// --- topics ---------------------------------------------------------------

absl::Status RunTopics(Invocation& inv) {
  v1::ListTopicsRequest request;
  if (inv.args.Has("topic")) request.set_topic(inv.args.GetString("topic"));
  v1::ListTopicsResponse topics;
  if (absl::Status s =
          Call(inv, &v1::ControlPlane::Stub::ListTopics, request, &topics);
      !s.ok()) {
    return s;
  }
  if (inv.json) {
    PrintJson(inv, TopicsJson(topics));
  } else {
    Print(inv.io, TopicTable(topics));
  }
  return absl::OkStatus();
}

// --- stats ----------------------------------------------------------------

absl::Status RunStats(Invocation& inv) {
  v1::GetStatsResponse stats;
  if (absl::Status s = CallEveryPage(inv, &v1::ControlPlane::Stub::GetStats,
                                     v1::GetStatsRequest(), &stats,
                                     [](auto& r) { return r.mutable_ports(); });
      !s.ok()) {
    return s;
  }
  std::sort(stats.mutable_ports()->begin(), stats.mutable_ports()->end(),
            [](const auto& x, const auto& y) { return x.id() < y.id(); });
  if (inv.json) {
    Json processes = Json::Array();
    for (const ProcessTraffic& t : TotalsByProcess(stats.ports())) {
      processes.Append(ProcessTrafficJson(t));
    }
    Json ports = Json::Array();
    for (const v1::PortInfo& p : stats.ports()) ports.Append(PortJson(p));
    PrintJson(inv,
              Json::Object()
                  .Set("daemon", DaemonStatsJson(stats.daemon()))
                  .Set("processes", std::move(processes))
                  .Set("closed_ports", ProcessTrafficJson(ClosedPortsTraffic(
                                           stats.daemon().closed_ports())))
                  .Set("total", ProcessTrafficJson(TotalOf(stats)))
                  .Set("ports", std::move(ports)));
  } else {
    Print(inv.io, StatsView(stats));
  }
  return absl::OkStatus();
}

// --- watch ----------------------------------------------------------------

absl::Status RunWatch(Invocation& inv) {
  const uint64_t limit = inv.args.GetCount("count", 0);
  if (!inv.json) {
    // Say what this is at once (events may be minutes apart), once the
    // daemon has answered: with none there, the error alone is printed.
    v1::GetStatusResponse status;
    if (absl::Status s = Call(inv, &v1::ControlPlane::Stub::GetStatus,
                              v1::GetStatusRequest(), &status);
        !s.ok()) {
      return s;
    }
    Print(inv.io, absl::StrCat("events of shmportd ", status.version(), " at ",
                               inv.connection.address(),
                               " (Ctrl-C stops)\nwaiting for events…\n"));
  }
  absl::StatusOr<std::unique_ptr<grpc::ClientContext>> stream =
      inv.connection.NewStreamContext();
  if (!stream.ok()) return stream.status();
  std::unique_ptr<grpc::ClientContext> context = *std::move(stream);
  grpc::ClientContext* raw = context.get();
  inv.stop.SetStopAction([raw] { raw->TryCancel(); });
  v1::WatchEventsRequest request;
  request.set_include_existing(inv.args.GetBool("existing"));
  std::unique_ptr<grpc::ClientReader<v1::Event>> reader =
      inv.connection.stub().WatchEvents(context.get(), request);
  const absl::TimeZone zone = absl::LocalTimeZone();
  uint64_t seen = 0;
  v1::Event event;
  bool limit_reached = false;
  while (reader->Read(&event)) {
    Print(inv.io, inv.json ? absl::StrCat(EventJson(event).Serialize(), "\n")
                           : absl::StrCat(EventLine(event, zone), "\n"));
    if (limit != 0 && ++seen >= limit) {
      limit_reached = true;
      context->TryCancel();
      break;
    }
  }
  const grpc::Status finished = reader->Finish();
  // From here on a signal must not touch `context`.
  inv.stop.SetStopAction([] {});
  if (limit_reached || inv.stop.stopped()) return absl::OkStatus();
  if (finished.ok()) {
    std::fputs(
        "shmportctl: shmportd ended the event stream (it is shutting "
        "down)\n",
        inv.io.err);
    return absl::OkStatus();
  }
  return inv.connection.Explain(finished);
}

// --- top ------------------------------------------------------------------

// Waits out one interval of `top`: true when it should end (Ctrl-C, or q
// on its terminal).
bool TopWaitEnds(Invocation& inv, KeyReader& keys, absl::Duration interval) {
  if (!keys.active()) return inv.stop.WaitFor(interval);
  // Short slices, so that both a key and Ctrl-C end the wait promptly.
  const absl::Time end = absl::Now() + interval;
  for (absl::Duration left = interval; left > absl::ZeroDuration();
       left = end - absl::Now()) {
    if (std::optional<char> key =
            keys.Next(std::min(left, absl::Milliseconds(50)));
        key == 'q' || key == 'Q') {
      return true;
    }
    if (inv.stop.stopped()) return true;
  }
  return inv.stop.stopped();
}

// One frame of `top`, or the reason the daemon did not give one.
absl::Status SampleTop(Invocation& inv, v1::GetStatusResponse* status,
                       v1::ListPortsResponse* ports) {
  if (absl::Status s = Call(inv, &v1::ControlPlane::Stub::GetStatus,
                            v1::GetStatusRequest(), status);
      !s.ok()) {
    return s;
  }
  return ListAllPorts(inv, v1::ListPortsRequest(), ports);
}

void PrintTopFrame(Invocation& inv, uint64_t frame, const std::string& view) {
  // On a terminal, redraw in place (home, clear); else one frame after
  // another, separated by a blank line.
  Print(inv.io, absl::StrCat(inv.io.out_is_terminal ? "\x1b[H\x1b[2J"
                             : frame > 1            ? "\n"
                                                    : "",
                             view));
}

absl::Status RunTop(Invocation& inv) {
  const absl::Duration interval =
      inv.args.GetDuration("interval", absl::Seconds(1));
  const uint64_t iterations = inv.args.GetCount("iterations", 0);
  const uint64_t limit = inv.args.GetCount("limit", 20);
  // Ctrl-C only marks the stop; the loop below notices it between frames.
  inv.stop.SetStopAction([] {});
  const absl::TimeZone zone = absl::LocalTimeZone();
  const size_t width =
      inv.io.out_is_terminal ? TerminalColumns(fileno(inv.io.out)) : 0;
  KeyReader keys(STDIN_FILENO);
  TopSampler sampler;
  bool primed = false;
  bool answered = false;
  for (uint64_t frame = 0;; ++frame) {
    v1::GetStatusResponse status;
    v1::ListPortsResponse ports;
    const absl::Status sampled = SampleTop(inv, &status, &ports);
    const absl::Time now = absl::Now();
    // Waiting out a restart needs a daemon that answered once: with none
    // at the address at all, say so and exit.
    if (!sampled.ok() && (!answered || (!absl::IsUnavailable(sampled) &&
                                        !absl::IsDeadlineExceeded(sampled)))) {
      return sampled;
    }
    answered = true;
    if (!sampled.ok()) {
      // The daemon is gone (or restarting): say so and keep trying; a new
      // daemon numbers its ports afresh.
      sampler.Reset();
      primed = false;
      if (!inv.json) {
        PrintTopFrame(inv, frame,
                      TopWaitingView(inv.connection.address(),
                                     sampled.message(), now, zone, width));
      }
    } else {
      const std::vector<PortRate> rates = sampler.Update(ports, now);
      // The first frame only primes the sampler: rates need two reports.
      if (primed && inv.json) {
        Json list = Json::Array();
        for (const PortRate& r : Busiest(rates, limit)) {
          list.Append(PortRateJson(r));
        }
        PrintJson(inv, Json::Object()
                           .Set("time_unix_ms", absl::ToUnixMillis(now))
                           .Set("processes", status.processes())
                           .Set("ports", std::move(list)));
      } else if (primed) {
        PrintTopFrame(inv, frame,
                      TopView(status, rates, limit, now, zone, width));
      }
      primed = true;
    }
    if (iterations != 0 && frame >= iterations) return absl::OkStatus();
    if (TopWaitEnds(inv, keys, interval)) return absl::OkStatus();
  }
}

// --- open / close -----------------------------------------------------------

struct GeometryFlag {
  const char* name;
  void (v1::Geometry::*set)(uint32_t);
};
constexpr GeometryFlag kGeometryFlags[] = {
    {"chunk-size", &v1::Geometry::set_chunk_size},
    {"chunk-count", &v1::Geometry::set_chunk_count},
    {"max-segments", &v1::Geometry::set_max_segments},
    {"inline-threshold", &v1::Geometry::set_inline_threshold},
};

absl::Status CheckOpen(const ParsedArgs& args) {
  for (const GeometryFlag& f : kGeometryFlags) {
    if (!args.Has(f.name)) continue;
    const uint64_t value = args.GetBytes(f.name, 0);
    if (value > UINT32_MAX) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", f.name, "=", value, " does not fit in 32 bits"));
    }
  }
  return absl::OkStatus();
}

absl::Status RunOpen(Invocation& inv) {
  const std::string& from = inv.args.positional()[0];
  const std::string& to = inv.args.positional()[1];
  const bool dry_run = inv.args.GetBool("dry-run");
  v1::OpenPortRequest request;
  *request.mutable_from() = RefOf(from);
  *request.mutable_to() = RefOf(to);
  request.set_dry_run(dry_run);
  struct GeometryFlag {
    const char* name;
    void (v1::Geometry::*set)(uint32_t);
  };
  for (const GeometryFlag& f :
       {GeometryFlag{"chunk-size", &v1::Geometry::set_chunk_size},
        GeometryFlag{"chunk-count", &v1::Geometry::set_chunk_count},
        GeometryFlag{"max-segments", &v1::Geometry::set_max_segments},
        GeometryFlag{"inline-threshold",
                     &v1::Geometry::set_inline_threshold}}) {
    if (!inv.args.Has(f.name)) continue;
    (request.mutable_geometry()->*f.set)(
        static_cast<uint32_t>(inv.args.GetBytes(f.name, 0)));
  }
  v1::OpenPortResponse response;
  if (absl::Status s = Call(inv, &v1::ControlPlane::Stub::OpenPort, request,
                            &response, /*as_admin=*/!dry_run);
      !s.ok()) {
    return absl::Status(
        s.code(), absl::StrCat("open ", from, " → ", to, ": ", s.message()));
  }
  if (inv.json) {
    PrintJson(inv, Json::Object()
                       .Set("dry_run", dry_run)
                       .Set("port_id", response.port_id())
                       .Set("from", from)
                       .Set("to", to)
                       .Set("geometry", GeometryJson(response.geometry()))
                       .Set("peer", ProcessJson(response.peer())));
  } else if (dry_run) {
    Print(inv.io, absl::StrCat("allowed: ", from, " → ", to, " would get ",
                               GeometryText(response.geometry()),
                               " (dry run: nothing was opened)\n"));
  } else {
    Print(inv.io,
          absl::StrCat("opened port ", response.port_id(), ": ", from, " → ",
                       to, " (", GeometryText(response.geometry()), ")\n"));
  }
  return absl::OkStatus();
}

absl::Status CheckClose(const ParsedArgs& args) {
  const std::string& text = args.positional()[0];
  uint64_t port_id = 0;
  if (!absl::SimpleAtoi(text, &port_id) || port_id == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", text, "\" is not a port id (see `shmportctl ports`)"));
  }
  return absl::OkStatus();
}

absl::Status RunClose(Invocation& inv) {
  uint64_t port_id = 0;
  (void)absl::SimpleAtoi(inv.args.positional()[0], &port_id);  // checked
  v1::ClosePortRequest request;
  request.set_port_id(port_id);
  v1::ClosePortResponse response;
  if (absl::Status s = Call(inv, &v1::ControlPlane::Stub::ClosePort, request,
                            &response, /*as_admin=*/true);
      !s.ok()) {
    return s;
  }
  if (inv.json) {
    PrintJson(inv, Json::Object().Set("port_id", port_id).Set("closed", true));
  } else {
    Print(inv.io, absl::StrCat("closed port ", port_id, "\n"));
  }
  return absl::OkStatus();
}

// --- the table of commands --------------------------------------------------

const std::vector<Command>& Commands() {
  static const auto* commands = new std::vector<Command>{
      {.name = "status",
       .summary = "daemon health, version, uptime and counts",
       .details =
           "Asks the daemon for its health, version, pid, uptime, addresses "
           "and how many processes and ports it holds. Exit code 1 when it "
           "does not answer (within --wait, for scripts that have just "
           "started it).",
       .flags = {{"wait", Kind::kDuration, "DURATION",
                  "wait up to DURATION for a daemon that is starting"}},
       .run = &RunStatus},
      {.name = "ps",
       .summary = "registered processes",
       .details =
           "Lists the registered processes: id, name, pid and uid (as the "
           "kernel reported them when the broker link attached), state, age, "
           "number of ports, labels.",
       .run = &RunPs},
      {.name = "ports",
       .summary = "open ports with their traffic",
       .details =
           "Lists the open ports: the two ends (a opened the port), the "
           "negotiated geometry, messages and bytes each way as reported by "
           "the sender, segments and chunks in use at each end, OOSM waits "
           "and protocol errors. Counters come from the clients, pushed every "
           "second; \"-\" means an end has not reported yet.",
       .flags = {{"process", Kind::kString, "NAME|ID",
                  "only ports with this process at one end"}},
       .run = &RunPorts},
      {.name = "topics",
       .summary = "topics with their publisher and subscribers",
       .details =
           "Lists the topics: the publisher, and one row per subscriber with "
           "its subscription to the publisher (\"-\" while it waits for "
           "one), its mode (block, or drop-oldest/QUEUE_DEPTH), and the "
           "publisher's counters for it: lag (samples published and not yet "
           "released), samples delivered and dropped, chunks and bytes its "
           "holds keep. Counters come from the publisher, pushed every "
           "second; \"-\" means it has not reported yet.",
       .flags = {{"topic", Kind::kString, "TOPIC", "only this topic"}},
       .run = &RunTopics},
      {.name = "stats",
       .summary = "daemon counters and traffic per process",
       .details =
           "Shows the daemon's own counters (registrations, expired and "
           "refused attaches, watchers, memory, fds) and the traffic of each "
           "process, summed over its ports.",
       .run = &RunStats},
      {.name = "watch",
       .summary = "stream registry events as they happen",
       .details =
           "Prints the daemon's events as they happen: processes registered "
           "and exited, ports opened and closed, with the reason. Runs until "
           "Ctrl-C (exit 0) or until the daemon stops. With --json, one JSON "
           "object per line.",
       .flags = {{"existing", Kind::kBool, "",
                  "first print the current processes and ports as events"},
                 {"count", Kind::kCount, "N", "stop after N events"}},
       .run = &RunWatch},
      {.name = "top",
       .summary = "live throughput of the busiest ports",
       .details =
           "Redraws the busiest ports every --interval: bytes and messages "
           "per second each way, chunks in use, OOSM waits, errors. Rates "
           "are computed from the counters the clients push (every second), "
           "so the first frame appears after one interval. Runs until Ctrl-C. "
           "With --json, one JSON object per frame and line.",
       .flags = {{"interval", Kind::kDuration, "DURATION",
                  "time between frames (default 1s)"},
                 {"iterations", Kind::kCount, "N",
                  "stop after N frames (default: run until Ctrl-C)"},
                 {"limit", Kind::kCount, "N",
                  "show at most N ports (default 20)"}},
       .run = &RunTop},
      {.name = "open",
       .arguments = "FROM TO",
       .summary = "open a port between two registered processes",
       .details =
           "Asks the daemon to open a port from process FROM to process TO "
           "(names, or ids: a string of digits is an id). Both processes "
           "receive their end over their broker links, as if FROM had called "
           "OpenPort. This acts as the operator: it reads the daemon's "
           "admin.token, so run it as the daemon's user. With --dry-run it "
           "only evaluates policy and limits and prints the geometry the "
           "port would get (no token needed).",
       .flags = {{"dry-run", Kind::kBool, "",
                  "check policy and limits only; open nothing"},
                 {"chunk-size", Kind::kBytes, "BYTES",
                  "requested chunk size (e.g. 64KiB; clamped by policy)"},
                 {"chunk-count", Kind::kCount, "N",
                  "requested chunks per segment"},
                 {"max-segments", Kind::kCount, "N",
                  "requested segments per direction"},
                 {"inline-threshold", Kind::kBytes, "BYTES",
                  "payloads below this travel inline"}},
       .min_args = 2,
       .max_args = 2,
       .run = &RunOpen,
       .check = &CheckOpen},
      {.name = "close",
       .arguments = "PORT_ID",
       .summary = "close a port",
       .details = "Closes a port: the daemon forgets it and tells both ends "
                  "(PORT_CLOSED). Acts as the operator (reads admin.token).",
       .min_args = 1,
       .max_args = 1,
       .run = &RunClose,
       .check = &CheckClose},
  };
  return *commands;
}

const Command* FindCommand(absl::string_view name) {
  for (const Command& c : Commands()) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

std::string Synopsis(const Command& c) {
  return absl::StrCat("shmportctl ", c.name, " [flags]",
                      c.arguments.empty() ? "" : " ", c.arguments);
}

std::string MainHelp() {
  std::string out =
      "shmportctl: inspect and operate a running shmportd\n\n"
      "usage: shmportctl [--address=ADDR] [--json] COMMAND [flags] [args]\n\n"
      "commands:\n";
  size_t width = 0;
  for (const Command& c : Commands()) width = std::max(width, c.name.size());
  for (const Command& c : Commands()) {
    absl::StrAppend(&out, "  ", c.name, std::string(width - c.name.size(), ' '),
                    "   ", c.summary, "\n");
  }
  absl::StrAppend(&out, "\nflags (accepted by every command):\n",
                  FormatFlagHelp(GlobalFlags()),
                  "\nexit codes: 0 ok, 1 error, 2 usage\n"
                  "Run 'shmportctl COMMAND --help' for a command's flags.\n");
  return out;
}

std::string CommandHelp(const Command& c) {
  std::string out =
      absl::StrCat("usage: ", Synopsis(c), "\n\n", c.details, "\n");
  if (!c.flags.empty()) {
    absl::StrAppend(&out, "\nflags:\n", FormatFlagHelp(c.flags));
  }
  absl::StrAppend(&out, "\nglobal flags:\n", FormatFlagHelp(GlobalFlags()),
                  "\nexit codes: 0 ok, 1 error, 2 usage\n");
  return out;
}

int UsageError(const Io& io, absl::string_view message,
               const Command* command) {
  std::string text = absl::StrCat("shmportctl: ", message, "\n");
  if (command != nullptr) {
    absl::StrAppend(&text, "usage: ", Synopsis(*command), "\n",
                    "Run 'shmportctl ", command->name,
                    " --help' for details.\n");
  } else {
    absl::StrAppend(&text,
                    "usage: shmportctl [--address=ADDR] [--json] COMMAND "
                    "[flags] [args]\ncommands:");
    for (const Command& c : Commands()) absl::StrAppend(&text, " ", c.name);
    absl::StrAppend(&text, "\nRun 'shmportctl --help' for details.\n");
  }
  std::fputs(text.c_str(), io.err);
  return kExitUsage;
}

}  // namespace

int RunShmportctl(const std::vector<std::string>& args, const Io& io,
                  StopSignal& stop) {
  // The command is the first argument that is neither a flag nor the value
  // of a global flag before it; its own flags may come anywhere after it.
  std::optional<size_t> command_index;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      if (i + 1 < args.size()) command_index = i + 1;
      break;
    }
    if (a.empty() || a[0] != '-') {
      command_index = i;
      break;
    }
    // "--address ADDR": skip the value of a global flag that takes one.
    if (a.find('=') == std::string::npos) {
      for (const FlagSpec& f : GlobalFlags()) {
        if (f.kind != Kind::kBool && (a == "--" + f.name)) ++i;
      }
    }
  }
  const Command* command = nullptr;
  std::vector<std::string> rest = args;
  if (command_index.has_value()) {
    const std::string name = args[*command_index];
    rest.erase(rest.begin() + static_cast<std::ptrdiff_t>(*command_index));
    if (name == "help") {
      // "shmportctl help [COMMAND]"
      const Command* about = nullptr;
      for (const std::string& a : rest) {
        if (about == nullptr && !a.empty() && a[0] != '-') {
          about = FindCommand(a);
        }
      }
      Print(io, about != nullptr ? CommandHelp(*about) : MainHelp());
      return kExitOk;
    }
    command = FindCommand(name);
    if (command == nullptr) {
      return UsageError(io, absl::StrCat("unknown command \"", name, "\""),
                        nullptr);
    }
  }

  std::vector<FlagSpec> flags = GlobalFlags();
  if (command != nullptr) {
    flags.insert(flags.end(), command->flags.begin(), command->flags.end());
  }
  absl::StatusOr<ParsedArgs> parsed = ParseCommandLine(rest, flags);
  if (!parsed.ok()) return UsageError(io, parsed.status().message(), command);
  if (parsed->GetBool("help")) {
    Print(io, command != nullptr ? CommandHelp(*command) : MainHelp());
    return kExitOk;
  }
  if (command == nullptr) return UsageError(io, "no command given", nullptr);

  const size_t given = parsed->positional().size();
  if (given < command->min_args || given > command->max_args) {
    return UsageError(
        io,
        command->max_args == 0
            ? absl::StrCat(command->name, " takes no arguments (got ", given,
                           ")")
            : absl::StrCat(command->name, " needs ", command->arguments,
                           " (got ", given, " arguments)"),
        command);
  }

  if (command->check != nullptr) {
    if (absl::Status s = command->check(*parsed); !s.ok()) {
      return UsageError(io, s.message(), command);
    }
  }

  ConnectionOptions options;
  options.address = parsed->GetString("address");
  options.runtime_dir = parsed->GetString("runtime-dir");
  options.timeout = parsed->GetDuration("timeout", absl::Seconds(5));
  if (parsed->Has("wait")) {
    options.wait_for_ready = true;
    options.timeout = parsed->GetDuration("wait", options.timeout);
  }
  absl::StatusOr<ControlConnection> connection =
      ControlConnection::Create(options);
  if (!connection.ok()) {
    return UsageError(io, connection.status().message(), command);
  }
  Invocation invocation{*parsed, *connection, io, stop,
                        parsed->GetBool("json")};
  const absl::Status result = command->run(invocation);
  if (!result.ok()) {
    std::fprintf(io.err, "shmportctl: %s\n", result.ToString().c_str());
    return kExitError;
  }
  return kExitOk;
}

}  // namespace shmport::cli
