#include "cli/views.h"

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/human_units.h"
#include "cli/json_schema.h"
#include "cli/table.h"
#include "cli/traffic.h"

namespace shmport::cli {
namespace {

using Align = Table::Align;

std::string Ends(absl::string_view a, absl::string_view b) {
  return absl::StrCat(a, " → ", b);
}

// "1 port", "2 ports".
std::string Counted(uint64_t n, absl::string_view one, absl::string_view many) {
  return absl::StrCat(n, " ", n == 1 ? one : many);
}

// `s` cut to `width` columns; 0: as it is.
std::string Fit(absl::string_view s, size_t width) {
  return width == 0 ? std::string(s) : FitToWidth(s, width);
}

// A counter of one end, or "-" when that end never reported.
std::string Reported(const v1::PortEnd& end, uint64_t value, bool bytes) {
  if (end.stats().updated_at_unix_ms() == 0) return "-";
  return bytes ? FormatBytes(value) : absl::StrCat(value);
}

std::string BothEnds(const v1::PortInfo& port, uint64_t a, uint64_t b) {
  const bool ra = port.a().stats().updated_at_unix_ms() != 0;
  const bool rb = port.b().stats().updated_at_unix_ms() != 0;
  return absl::StrCat(ra ? absl::StrCat(a) : "-", "/",
                      rb ? absl::StrCat(b) : "-");
}

// "16.0 MiB/-": byte counts of both ends, "-" for an end that never reported.
std::string BothEndsBytes(const v1::PortInfo& port, uint64_t a, uint64_t b) {
  return absl::StrCat(Reported(port.a(), a, true), "/",
                      Reported(port.b(), b, true));
}

std::string Labels(const v1::ProcessInfo& p) {
  std::vector<std::pair<std::string, std::string>> labels(p.labels().begin(),
                                                          p.labels().end());
  std::sort(labels.begin(), labels.end());
  return absl::StrJoin(labels, ",", absl::PairFormatter("="));
}

}  // namespace

std::string GeometryText(const v1::Geometry& g) {
  auto or_default = [](uint32_t v, auto format) -> std::string {
    return v == 0 ? std::string("default") : format(v);
  };
  return absl::StrCat(
      or_default(g.chunk_size(), [](uint32_t v) { return FormatBytes(v); }),
      " × ",
      or_default(g.chunk_count(), [](uint32_t v) { return absl::StrCat(v); }),
      ", ",
      or_default(g.max_segments(), [](uint32_t v) { return absl::StrCat(v); }),
      " segments, inline < ", or_default(g.inline_threshold(), [](uint32_t v) {
        return FormatBytes(v);
      }));
}

std::string StatusView(const v1::GetStatusResponse& s,
                       absl::string_view health) {
  const absl::Time started = absl::FromUnixMillis(s.started_at_unix_ms());
  return RenderKeyValues({
      {"daemon",
       absl::StrCat("shmportd ", s.version(), " (pid ", s.pid(), ")")},
      {"health", std::string(health)},
      {"uptime",
       absl::StrCat(FormatAge(absl::Milliseconds(s.uptime_ms())), " (since ",
                    absl::FormatTime("%Y-%m-%d %H:%M:%S", started,
                                     absl::LocalTimeZone()),
                    ")")},
      {"address", s.listen_address()},
      {"broker", s.broker_address()},
      {"processes", absl::StrCat(s.processes())},
      {"ports", absl::StrCat(s.ports())},
  });
}

std::string ProcessTable(const v1::ListProcessesResponse& response,
                         absl::Time now) {
  std::vector<const v1::ProcessInfo*> processes;
  for (const v1::ProcessInfo& p : response.processes()) processes.push_back(&p);
  std::sort(processes.begin(), processes.end(),
            [](auto* x, auto* y) { return x->id() < y->id(); });
  Table table({{"id", Align::kRight},
               {"name"},
               {"pid", Align::kRight},
               {"uid", Align::kRight},
               {"state"},
               {"age", Align::kRight},
               {"ports", Align::kRight},
               {"labels"}});
  for (const v1::ProcessInfo* p : processes) {
    table.AddRow(
        {absl::StrCat(p->id()), p->name(), absl::StrCat(p->pid()),
         absl::StrCat(p->uid()), ProcessStateName(p->state()),
         FormatAge(now - absl::FromUnixMillis(p->registered_at_unix_ms())),
         absl::StrCat(p->port_count()), Labels(*p)});
  }
  return table.Render();
}

std::string PortTable(
    const google::protobuf::RepeatedPtrField<v1::PortInfo>& ports) {
  std::vector<const v1::PortInfo*> sorted;
  for (const v1::PortInfo& p : ports) sorted.push_back(&p);
  std::sort(sorted.begin(), sorted.end(),
            [](auto* x, auto* y) { return x->id() < y->id(); });
  Table table({{"id", Align::kRight},
               {"a → b"},
               {"geometry"},
               {"a→b msgs", Align::kRight},
               {"a→b bytes", Align::kRight},
               {"b→a msgs", Align::kRight},
               {"b→a bytes", Align::kRight},
               {"segs a/b", Align::kRight},
               {"chunks a/b", Align::kRight},
               {"mapped a/b", Align::kRight},
               {"resident a/b", Align::kRight},
               {"oosm", Align::kRight},
               {"errors", Align::kRight}});
  for (const v1::PortInfo* p : sorted) {
    const v1::PortEndStats& a = p->a().stats();
    const v1::PortEndStats& b = p->b().stats();
    table.AddRow({absl::StrCat(p->id()), Ends(p->a().name(), p->b().name()),
                  GeometryText(p->geometry()),
                  Reported(p->a(), a.messages_sent(), false),
                  Reported(p->a(), a.bytes_sent(), true),
                  Reported(p->b(), b.messages_sent(), false),
                  Reported(p->b(), b.bytes_sent(), true),
                  BothEnds(*p, a.segments_out(), b.segments_out()),
                  BothEnds(*p, a.chunks_in_use(), b.chunks_in_use()),
                  BothEndsBytes(*p, a.mapped_bytes(), b.mapped_bytes()),
                  BothEndsBytes(*p, a.resident_bytes(), b.resident_bytes()),
                  absl::StrCat(a.oosm_waits() + b.oosm_waits()),
                  absl::StrCat(a.protocol_errors() + b.protocol_errors())});
  }
  return table.Render();
}

std::string StatsView(const v1::GetStatsResponse& stats) {
  const v1::DaemonStats& d = stats.daemon();
  std::string out = "daemon\n";
  const std::string counters = RenderKeyValues({
      {"processes", absl::StrCat(d.processes())},
      {"ports", absl::StrCat(d.ports())},
      {"registrations", absl::StrCat(d.registrations_total(), " total, ",
                                     d.registrations_expired(), " expired, ",
                                     d.attach_refused(), " refused")},
      {"ports opened", absl::StrCat(d.ports_opened_total(), " total")},
      {"watchers", absl::StrCat(d.watchers(), " (", d.events_dropped(),
                                " dropped for lagging)")},
      {"memory", absl::StrCat(FormatBytes(d.rss_bytes()), " resident")},
      {"open fds", absl::StrCat(d.open_fds())},
  });
  for (absl::string_view line : absl::StrSplit(counters, '\n')) {
    if (!line.empty()) absl::StrAppend(&out, "  ", line, "\n");
  }
  out += "\ntraffic by process (as reported by each end)\n";
  Table table({{"id", Align::kRight},
               {"process"},
               {"ports", Align::kRight},
               {"sent msgs", Align::kRight},
               {"sent bytes", Align::kRight},
               {"recv msgs", Align::kRight},
               {"recv bytes", Align::kRight},
               {"chunks", Align::kRight},
               {"oosm", Align::kRight},
               {"errors", Align::kRight}});
  auto add = [&](const ProcessTraffic& t, std::string id) {
    table.AddRow({std::move(id), t.name, absl::StrCat(t.ports),
                  absl::StrCat(t.messages_sent), FormatBytes(t.bytes_sent),
                  absl::StrCat(t.messages_received),
                  FormatBytes(t.bytes_received), absl::StrCat(t.chunks_in_use),
                  absl::StrCat(t.oosm_waits), absl::StrCat(t.protocol_errors)});
  };
  for (const ProcessTraffic& t : TotalsByProcess(stats.ports())) {
    add(t, absl::StrCat(t.process_id));
  }
  add(ClosedPortsTraffic(stats.daemon().closed_ports()), "");
  add(TotalOf(stats), "");
  out += table.Render();
  return out;
}

std::string EventLine(const v1::Event& e, absl::TimeZone zone) {
  std::string what;
  switch (e.kind()) {
    case v1::Event::PROCESS_REGISTERED:
    case v1::Event::PROCESS_EXITED: {
      const v1::ProcessInfo& p = e.process();
      what = absl::StrCat(p.name(), " (id ", p.id(), ", pid ", p.pid(),
                          ", uid ", p.uid(), ")");
      break;
    }
    case v1::Event::PORT_OPENED:
    case v1::Event::PORT_CLOSED: {
      const v1::PortInfo& p = e.port();
      what =
          absl::StrCat("port ", p.id(), ": ", Ends(p.a().name(), p.b().name()));
      if (e.kind() == v1::Event::PORT_OPENED) {
        absl::StrAppend(&what, " (", GeometryText(p.geometry()), ")");
      }
      break;
    }
    default:
      what = "(unknown event kind)";
  }
  if (!e.reason().empty()) absl::StrAppend(&what, ": ", e.reason());
  std::string kind = EventKindName(e.kind());
  kind.resize(std::max<size_t>(kind.size(), 18), ' ');
  return absl::StrCat(
      absl::FormatTime("%H:%M:%E3S", absl::FromUnixMillis(e.time_unix_ms()),
                       zone),
      "  #", e.sequence(), "  ", kind, "  ", what);
}

std::string TopView(const v1::GetStatusResponse& status,
                    const std::vector<PortRate>& rates, size_t limit,
                    absl::Time now, absl::TimeZone zone, size_t width) {
  double total = 0;
  for (const PortRate& r : rates) total += r.total_bytes_per_second();
  const std::string headline = absl::StrCat(
      "shmportd ", status.version(), " — ",
      Counted(status.processes(), "process", "processes"), ", ",
      Counted(status.ports(), "port", "ports"), ", ", FormatRate(total), " — ",
      absl::FormatTime("%H:%M:%S", now, zone));
  std::string out = absl::StrCat(Fit(headline, width), "\n",
                                 Fit(status.listen_address(), width), "\n\n");
  Table table({{"port", Align::kRight},
               {"a → b"},
               {"a→b/s", Align::kRight},
               {"msg/s", Align::kRight},
               {"b→a/s", Align::kRight},
               {"msg/s", Align::kRight},
               {"chunks", Align::kRight},
               {"oosm/s", Align::kRight},
               {"err", Align::kRight}});
  table.FitTo(width, /*elastic_column=*/1);
  // The busiest, in id order: a redrawn screen keeps its rows in place.
  std::vector<PortRate> shown = Busiest(rates, limit);
  std::sort(shown.begin(), shown.end(),
            [](const PortRate& x, const PortRate& y) {
              return x.port_id < y.port_id;
            });
  for (const PortRate& r : shown) {
    auto rate = [&](double v) { return r.measured ? FormatRate(v) : "…"; };
    auto count = [&](double v) { return r.measured ? FormatCount(v) : "…"; };
    table.AddRow(
        {absl::StrCat(r.port_id), Ends(r.a_name, r.b_name),
         rate(r.a_to_b.bytes_per_second), count(r.a_to_b.messages_per_second),
         rate(r.b_to_a.bytes_per_second), count(r.b_to_a.messages_per_second),
         absl::StrCat(r.chunks_in_use, "/", r.chunks_total),
         count(r.oosm_per_second), absl::StrCat(r.protocol_errors)});
  }
  out += table.Render();
  if (rates.size() > limit) {
    absl::StrAppend(
        &out,
        Fit(absl::StrCat(
                "(", Counted(rates.size() - limit, "more port", "more ports"),
                ")"),
            width),
        "\n");
  }
  return out;
}

std::string TopWaitingView(absl::string_view address, absl::string_view why,
                           absl::Time now, absl::TimeZone zone, size_t width) {
  return absl::StrCat(Fit(absl::StrCat("shmportd does not answer — ",
                                       absl::FormatTime("%H:%M:%S", now, zone)),
                          width),
                      "\n", Fit(address, width), "\n\n", Fit(why, width), "\n",
                      Fit("retrying every interval; q or Ctrl-C quits", width),
                      "\n");
}

}  // namespace shmport::cli
