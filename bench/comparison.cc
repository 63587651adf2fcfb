#include "bench/comparison.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/memcpy_reference.h"

namespace shmport::bench {
namespace {

using CellKey = std::tuple<Touch, Mode, size_t, std::string>;

std::string Describe(const CellKey& key, const CellMeasurement& m,
                     absl::Duration wall) {
  const auto& [touch, mode, payload, transport] = key;
  std::string line = absl::StrFormat(
      "%-12s %-10s touch=%-4s %8zu B: %12.0f msg/s %8.3f GB/s", transport,
      ModeName(mode), TouchName(touch), payload, m.msgs_per_s, m.gbytes_per_s);
  if (mode == Mode::kPingPong) {
    absl::StrAppendFormat(&line, "  rtt p50 %.1f us p99 %.1f us (%u)", m.p50_us,
                          m.p99_us, m.messages);
  }
  absl::StrAppendFormat(&line, "  [cell %.2f s]", absl::ToDoubleSeconds(wall));
  return line;
}

}  // namespace

const char* ModeName(Mode mode) {
  return mode == Mode::kThroughput ? "throughput" : "pingpong";
}

Spread SpreadOf(std::vector<double> values) {
  Spread s;
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  s.min = values.front();
  s.max = values.back();
  s.median =
      n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  return s;
}

CellSummary SummariseCell(const std::string& transport, Mode mode, Touch touch,
                          size_t payload_bytes,
                          const std::vector<CellMeasurement>& reps) {
  CellSummary c;
  c.transport = transport;
  c.mode = mode;
  c.touch = touch;
  c.payload_bytes = payload_bytes;
  c.reps = static_cast<int>(reps.size());
  std::vector<double> msgs, gbytes, p50, p99, p999;
  for (const CellMeasurement& m : reps) {
    msgs.push_back(m.msgs_per_s);
    gbytes.push_back(m.gbytes_per_s);
    p50.push_back(m.p50_us);
    p99.push_back(m.p99_us);
    p999.push_back(m.p999_us);
    c.samples += m.messages;
  }
  c.msgs_per_s = SpreadOf(std::move(msgs));
  c.gbytes_per_s = SpreadOf(std::move(gbytes));
  c.p50_us = SpreadOf(std::move(p50));
  c.p99_us = SpreadOf(std::move(p99));
  c.p999_us = SpreadOf(std::move(p999));
  return c;
}

namespace {

// One repetition of every (payload, touch, mode, transport) cell, into
// `results`.
absl::Status RunRepetition(
    const ComparisonPlan& plan, int rep,
    std::map<CellKey, std::vector<CellMeasurement>>& results) {
  const size_t n = plan.transports.size();
  for (size_t payload : plan.payloads) {
    for (Touch touch : plan.touches) {
      WorkloadConfig config = plan.timing;
      config.payload_bytes = payload;
      config.touch = touch;
      for (Mode mode : plan.modes) {
        if (plan.memcpy && mode == Mode::kThroughput && touch == Touch::kAll) {
          CellKey key{touch, mode, payload, kMemcpyName};
          const absl::Time start = absl::Now();
          CellMeasurement m =
              MeasureMemcpy(payload, config.warmup, config.duration);
          if (plan.progress) {
            plan.progress(Describe(key, m, absl::Now() - start));
          }
          results[key].push_back(m);
        }
        for (size_t k = 0; k < n; ++k) {
          const Transport& transport = *plan.transports[(k + rep) % n];
          if (!transport.Supports(mode)) continue;
          CellKey key{touch, mode, payload, transport.name()};
          const absl::Time start = absl::Now();
          absl::StatusOr<CellMeasurement> m = RunCell(transport, mode, config);
          if (!m.ok()) return m.status();
          if (plan.progress) {
            plan.progress(Describe(key, *m, absl::Now() - start));
          }
          results[key].push_back(*m);
        }
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<CellSummary>> RunComparison(
    const ComparisonPlan& plan) {
  if (plan.reps < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("reps must be >= 1, got ", plan.reps));
  }
  std::map<CellKey, std::vector<CellMeasurement>> results;
  for (int rep = 0; rep < plan.reps; ++rep) {
    if (absl::Status s = RunRepetition(plan, rep, results); !s.ok()) return s;
  }

  std::vector<std::string> names;
  for (const auto& t : plan.transports) names.push_back(t->name());
  names.push_back(kMemcpyName);
  std::vector<CellSummary> summaries;
  for (Touch touch : plan.touches) {
    for (Mode mode : plan.modes) {
      for (size_t payload : plan.payloads) {
        for (const std::string& name : names) {
          auto it = results.find(CellKey{touch, mode, payload, name});
          if (it == results.end()) continue;
          summaries.push_back(
              SummariseCell(name, mode, touch, payload, it->second));
        }
      }
    }
  }
  return summaries;
}

}  // namespace shmport::bench
