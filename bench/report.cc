#include "bench/report.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace shmport::bench {
namespace {

constexpr char kShmport[] = "shmport";
constexpr char kShmportSpin[] = "shmport-spin";

std::string JsonNumber(double v, int decimals) {
  if (!std::isfinite(v)) return "null";
  return absl::StrFormat("%.*f", decimals, v);
}

void AppendMetric(std::string& out, absl::string_view name, const Spread& s,
                  int decimals, bool measured) {
  auto value = [&](double v) {
    return measured ? JsonNumber(v, decimals) : std::string("null");
  };
  absl::StrAppend(&out, ", \"", name, "\": ", value(s.median), ", \"", name,
                  "_min\": ", value(s.min), ", \"", name,
                  "_max\": ", value(s.max));
}

// Ordered, distinct transport names of `mode`'s cells.
std::vector<std::string> TransportsOf(const std::vector<CellSummary>& cells,
                                      Mode mode) {
  std::vector<std::string> names;
  for (const CellSummary& c : cells) {
    if (c.mode != mode) continue;
    if (std::find(names.begin(), names.end(), c.transport) == names.end()) {
      names.push_back(c.transport);
    }
  }
  return names;
}

std::vector<size_t> PayloadsOf(const std::vector<CellSummary>& cells,
                               Mode mode) {
  std::set<size_t> sizes;
  for (const CellSummary& c : cells) {
    if (c.mode == mode) sizes.insert(c.payload_bytes);
  }
  return {sizes.begin(), sizes.end()};
}

const CellSummary* Find(const std::vector<CellSummary>& cells, Mode mode,
                        size_t payload, const std::string& transport) {
  for (const CellSummary& c : cells) {
    if (c.mode == mode && c.payload_bytes == payload &&
        c.transport == transport) {
      return &c;
    }
  }
  return nullptr;
}

std::string Rate(double per_s) {
  if (per_s >= 1e6) return absl::StrFormat("%.2fM", per_s / 1e6);
  if (per_s >= 1e3) return absl::StrFormat("%.1fk", per_s / 1e3);
  return absl::StrFormat("%.0f", per_s);
}

std::string Micros(double us) {
  if (us >= 100) return absl::StrFormat("%.0f", us);
  if (us >= 10) return absl::StrFormat("%.1f", us);
  return absl::StrFormat("%.2f", us);
}

std::string Ratio(double a, double b) {
  if (!(b > 0) || !std::isfinite(a)) return "–";
  return absl::StrFormat("%.2f×", a / b);
}

std::string Row(const std::vector<std::string>& fields) {
  return absl::StrCat("| ", absl::StrJoin(fields, " | "), " |\n");
}

std::string Rule(size_t columns) {
  std::vector<std::string> cells(columns, "--:");
  cells[0] = ":--";
  return Row(cells);
}

bool Contains(const std::vector<std::string>& names, absl::string_view n) {
  return std::find(names.begin(), names.end(), n) != names.end();
}

// The heading's qualifier and the notes' sentence for a touch level.
std::string TouchHeading(Touch touch) {
  return touch == Touch::kAll
             ? ""
             : " — touch=none: payload NOT touched (header only)";
}

std::string TouchNote(Touch touch) {
  if (touch == Touch::kAll) return "";
  return absl::StrCat(
      " **touch=none**: the sender writes only the ", kMinPayloadBytes,
      "-byte header of each payload and the receiver reads only that, as "
      "iceoryx's iceperf measures zero-copy transports; the payload size is "
      "what the transport carries, not what anyone touched (the copying "
      "transports still copy every byte). Compare these rows with each "
      "other, not with touch=all.");
}

std::string ThroughputTable(const std::vector<CellSummary>& cells,
                            Touch touch) {
  const Mode mode = Mode::kThroughput;
  const std::vector<std::string> names = TransportsOf(cells, mode);
  if (names.empty()) return "";
  std::vector<std::string> others;
  for (const std::string& n : names) {
    if (n != kShmport && n != kShmportSpin) others.push_back(n);
  }
  const bool has_shmport = Contains(names, kShmport);
  int reps = 0;
  for (const CellSummary& c : cells) reps = std::max(reps, c.reps);

  std::string out =
      absl::StrCat("### One-way throughput: GB/s (messages/s), median of ",
                   reps, " reps", TouchHeading(touch), "\n\n");
  std::vector<std::string> header = {"payload"};
  for (const std::string& n : names) header.push_back(n);
  if (has_shmport) {
    for (const std::string& o : others) header.push_back("shmport/" + o);
  }
  absl::StrAppend(&out, Row(header), Rule(header.size()));
  for (size_t payload : PayloadsOf(cells, mode)) {
    std::vector<std::string> row = {FormatPayload(payload)};
    for (const std::string& n : names) {
      const CellSummary* c = Find(cells, mode, payload, n);
      row.push_back(c == nullptr
                        ? "–"
                        : absl::StrFormat("%.3f (%s)", c->gbytes_per_s.median,
                                          Rate(c->msgs_per_s.median)));
    }
    if (has_shmport) {
      const CellSummary* s = Find(cells, mode, payload, kShmport);
      for (const std::string& o : others) {
        const CellSummary* c = Find(cells, mode, payload, o);
        row.push_back(
            s == nullptr || c == nullptr
                ? "–"
                : Ratio(s->gbytes_per_s.median, c->gbytes_per_s.median));
      }
    }
    absl::StrAppend(&out, Row(row));
  }
  absl::StrAppend(
      &out,
      "\nRatios: shmport's rate ÷ the other's (above 1: shmport moves more). "
      "Every transport's sender writes each payload byte once and its "
      "receiver reads each byte once; memcpy copies the payload buffer to "
      "another in one process (one read and one write of each byte), so "
      "shmport/memcpy is the fraction of this machine's copy bandwidth. "
      "handoff is the ceiling for a transfer between two processes: the "
      "same workload writing each payload into shared memory and reading it "
      "there, with one busy-polled flag per slot and nothing else, so "
      "shmport/handoff is the fraction of what any shared-memory transport "
      "could reach on this machine.",
      TouchNote(touch), "\n");
  return out;
}

std::string PingPongTable(const std::vector<CellSummary>& cells, Touch touch) {
  const Mode mode = Mode::kPingPong;
  const std::vector<std::string> names = TransportsOf(cells, mode);
  if (names.empty()) return "";
  std::vector<std::string> bases;
  std::vector<std::string> others;
  for (const std::string& n : names) {
    if (n == kShmport || n == kShmportSpin) {
      bases.push_back(n);
    } else {
      others.push_back(n);
    }
  }
  int reps = 0;
  for (const CellSummary& c : cells) reps = std::max(reps, c.reps);
  std::string out =
      absl::StrCat("### Ping-pong round trip: p50 / p99 µs, median of ", reps,
                   " reps", TouchHeading(touch), "\n\n");
  std::vector<std::string> header = {"payload"};
  for (const std::string& n : names) header.push_back(n);
  for (const std::string& b : bases) {
    for (const std::string& o : others) header.push_back(b + "/" + o + " p50");
  }
  absl::StrAppend(&out, Row(header), Rule(header.size()));
  for (size_t payload : PayloadsOf(cells, mode)) {
    std::vector<std::string> row = {FormatPayload(payload)};
    for (const std::string& n : names) {
      const CellSummary* c = Find(cells, mode, payload, n);
      row.push_back(c == nullptr ? "–"
                                 : absl::StrCat(Micros(c->p50_us.median), " / ",
                                                Micros(c->p99_us.median)));
    }
    for (const std::string& b : bases) {
      const CellSummary* s = Find(cells, mode, payload, b);
      for (const std::string& o : others) {
        const CellSummary* c = Find(cells, mode, payload, o);
        row.push_back(s == nullptr || c == nullptr
                          ? "–"
                          : Ratio(s->p50_us.median, c->p50_us.median));
      }
    }
    absl::StrAppend(&out, Row(row));
  }
  absl::StrAppend(
      &out,
      "\nRound trip: the sender writes a payload, the receiver reads it and "
      "writes a reply of the same size, the sender reads that (one way ≈ "
      "half). Blocking receives. shmport runs with the default options: "
      "Receive busy-polls the shared ring for up to 50 µs while that pays "
      "off (PortOptions::adaptive_spin), then sleeps. shmport-spin "
      "busy-polls up to 1 ms every time (PortOptions::receive_spin) on both "
      "ends. handoff busy-polls a shared flag on both ends (the floor for a "
      "shared-memory round trip). Ratios: shmport's p50 ÷ "
      "the other's (below 1: shmport is faster).",
      TouchNote(touch), "\n");
  return out;
}

std::string SpreadText(const Spread& s, int decimals) {
  return absl::StrFormat("%.*f [%.*f, %.*f]", decimals, s.median, decimals,
                         s.min, decimals, s.max);
}

std::string AllCellsTable(const std::vector<CellSummary>& cells) {
  std::string out =
      "### Every cell: median [min, max] over reps\n\n"
      "| transport | mode | touch | payload | msgs/s | GB/s | p50 µs | p99 µs "
      "| p99.9 µs | reps | samples |\n";
  absl::StrAppend(&out, Rule(11));
  for (const CellSummary& c : cells) {
    const bool pp = c.mode == Mode::kPingPong;
    absl::StrAppend(
        &out,
        Row({c.transport, ModeName(c.mode), TouchName(c.touch),
             FormatPayload(c.payload_bytes), SpreadText(c.msgs_per_s, 0),
             SpreadText(c.gbytes_per_s, 3), pp ? SpreadText(c.p50_us, 1) : "–",
             pp ? SpreadText(c.p99_us, 1) : "–",
             pp ? SpreadText(c.p999_us, 1) : "–", absl::StrCat(c.reps),
             absl::StrCat(c.samples)}));
  }
  return out;
}

}  // namespace

std::string FormatPayload(size_t bytes) {
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) {
    return absl::StrCat(bytes >> 20, " MiB");
  }
  if (bytes >= 1024 && bytes % 1024 == 0) {
    return absl::StrCat(bytes >> 10, " KiB");
  }
  return absl::StrCat(bytes, " B");
}

std::string FormatJson(const std::vector<CellSummary>& cells) {
  std::string out = "[\n";
  for (size_t i = 0; i < cells.size(); ++i) {
    const CellSummary& c = cells[i];
    const bool pp = c.mode == Mode::kPingPong;
    absl::StrAppend(&out, "  {\"transport\": \"", c.transport,
                    "\", \"mode\": \"", ModeName(c.mode), "\", \"touch\": \"",
                    TouchName(c.touch),
                    "\", \"payload_bytes\": ", c.payload_bytes);
    AppendMetric(out, "msgs_per_s", c.msgs_per_s, 1, true);
    AppendMetric(out, "gbytes_per_s", c.gbytes_per_s, 4, true);
    AppendMetric(out, "p50_us", c.p50_us, 3, pp);
    AppendMetric(out, "p99_us", c.p99_us, 3, pp);
    AppendMetric(out, "p999_us", c.p999_us, 3, pp);
    absl::StrAppend(&out, ", \"reps\": ", c.reps, ", \"samples\": ", c.samples,
                    "}", i + 1 < cells.size() ? "," : "", "\n");
  }
  absl::StrAppend(&out, "]\n");
  return out;
}

std::string FormatTables(const std::vector<CellSummary>& cells) {
  std::string out;
  for (Touch touch : {Touch::kAll, Touch::kNone}) {
    std::vector<CellSummary> mine;
    for (const CellSummary& c : cells) {
      if (c.touch == touch) mine.push_back(c);
    }
    for (const std::string& table :
         {ThroughputTable(mine, touch), PingPongTable(mine, touch)}) {
      if (table.empty()) continue;
      if (!out.empty()) absl::StrAppend(&out, "\n");
      absl::StrAppend(&out, table);
    }
  }
  absl::StrAppend(&out, "\n", AllCellsTable(cells));
  return out;
}

}  // namespace shmport::bench
