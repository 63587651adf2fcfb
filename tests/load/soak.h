// The soak run (issue 7): a real shmportd, `workers` StreamWorker processes
// in a ring, each the end of `ports_per_worker` ports (half opened to its
// successors, half by its predecessors), streaming checked data of mixed
// sizes while random workers are killed (SIGKILL) or stopped gracefully and
// replaced. Every report_interval it samples throughput, latency, the
// daemon's RSS and fd count, the registry and the workers' fds and
// mappings, and checks that the registry matches the live processes and
// ports exactly.
//
// It fails when a byte is corrupted or a message lost or repeated on a
// live port, a worker dies unasked, the registry disagrees with reality,
// a resource count grows (the last samples against the first ones after
// warm-up), or the daemon does not return to its idle fd count once every
// worker has ended.
#ifndef SHMPORT_TESTS_LOAD_SOAK_H_
#define SHMPORT_TESTS_LOAD_SOAK_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tests/load/stream_worker.h"

namespace shmport::testing {

struct SoakOptions {
  int workers = 200;
  // Port ends per worker; even, and below `workers`.
  int ports_per_worker = 4;
  absl::Duration duration = absl::Minutes(2);
  absl::Duration report_interval = absl::Seconds(10);
  // One random worker is replaced this often (zero: never).
  absl::Duration restart_interval = absl::Seconds(1);
  // Samples before this are warm-up; growth is measured from the first
  // sample after it.
  absl::Duration warmup = absl::Seconds(10);
  StreamOptions stream;
  uint64_t seed = 1;
  // Called with each sample and with progress lines, as they happen.
  std::function<void(absl::string_view line)> log;
};

struct SoakSample {
  absl::Duration elapsed;
  // Over the interval since the previous sample.
  double messages_per_second = 0;
  double megabytes_per_second = 0;
  absl::Duration latency_p50;
  absl::Duration latency_p99;
  // The daemon (RSS from GetStats, fds counted in /proc/<pid>/fd).
  uint64_t daemon_rss_bytes = 0;
  int daemon_fds = 0;
  // The registry (ListProcesses / ListPorts).
  int registry_processes = 0;
  int registry_ports = 0;
  // The workers, right now.
  int worker_fds_total = 0;
  int worker_fds_max = 0;
  int worker_mappings_total = 0;
  uint64_t ports_open = 0;  // as the workers count them
  // Since the start.
  uint64_t restarts = 0;
  uint64_t corrupt = 0;
  uint64_t lost = 0;
  uint64_t duplicated = 0;
};

// One line per sample, for logs and the report.
std::string FormatSample(const SoakSample& sample);

struct SoakResult {
  std::vector<SoakSample> samples;
  // Everything the workers reported, replaced workers included up to their
  // last report.
  WorkerReport totals;
  uint64_t restarts = 0;
  int daemon_fds_idle = 0;            // before the first worker
  int daemon_fds_after = 0;           // once every worker ended
  std::vector<std::string> failures;  // empty: the soak passed
  // One line: "ok (...)" or "FAILED (...)", with the headline numbers.
  std::string Summary() const;
};

// Runs the soak. Errors only when it cannot run at all (no daemon binary,
// fork failed); everything the soak checks ends up in `failures`.
absl::StatusOr<SoakResult> RunSoak(const SoakOptions& options);

}  // namespace shmport::testing

#endif  // SHMPORT_TESTS_LOAD_SOAK_H_
