#include "tests/load/soak.h"

#include <algorithm>
#include <memory>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "tests/control/daemon_process.h"
#include "tests/control/raw_client.h"
#include "tests/load/worker_ring.h"
#include "tests/util/eventually.h"
#include "tests/util/process_census.h"

namespace shmport::testing {
namespace {

constexpr absl::Duration kReplyTimeout = absl::Seconds(10);

// Geometry each port asks for: 1 MiB segments of 16 KiB chunks, at most 4
// per direction, so that the largest payloads (512 KiB) also exercise
// OOSM and extra segments.
v1::Geometry SoakGeometry() {
  v1::Geometry g;
  g.set_chunk_size(16 * 1024);
  g.set_chunk_count(64);
  g.set_max_segments(4);
  return g;
}

std::string Mib(uint64_t bytes) {
  return absl::StrFormat("%.1f MiB", bytes / 1048576.0);
}

std::string Micros(absl::Duration d) {
  if (d >= absl::Milliseconds(1)) {
    return absl::StrFormat("%.2fms", absl::ToDoubleMilliseconds(d));
  }
  return absl::StrFormat("%dus", absl::ToInt64Microseconds(d));
}

// The soak's state. Single-threaded: the workers run on their own.
class Soak {
 public:
  explicit Soak(const SoakOptions& options)
      : options_(options), rng_(options.seed), last_(options.workers) {}

  absl::StatusOr<SoakResult> Run();

 private:
  void Log(absl::string_view line) {
    if (options_.log) options_.log(line);
  }
  void Fail(std::string what) {
    Log(absl::StrCat("FAILURE: ", what));
    result_.failures.push_back(std::move(what));
  }

  // Replaces the worker of `slot`: SIGKILL or a graceful finish, then a
  // fresh worker and its ports again.
  void Restart(int slot);
  // Totals of every report so far: retired workers plus current ones.
  WorkerReport Totals() const;
  void Sample(absl::Time start);
  void CheckGrowth();
  void Shutdown();

  const SoakOptions options_;
  std::mt19937_64 rng_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<v1::ControlPlane::Stub> stub_;
  std::unique_ptr<WorkerRing> ring_;
  std::vector<WorkerReport> last_;  // latest report of each current worker
  WorkerReport retired_;            // last reports of replaced workers
  WorkerReport previous_totals_;
  absl::Time previous_sample_;
  SoakResult result_;
};

void Soak::Restart(int slot) {
  const bool graceful = rng_() % 4 == 0;
  absl::StatusOr<WorkerReport> last = ring_->End(slot, graceful);
  if (!last.ok()) {
    Fail(absl::StrCat("ending ", ring_->name(slot), ": ",
                      last.status().message()));
  } else {
    last_[slot] = *last;
  }
  retired_.Add(last_[slot]);
  last_[slot] = WorkerReport();
  ++result_.restarts;
  if (absl::Status s = ring_->Respawn(slot); !s.ok()) {
    Fail(absl::StrCat("restarting ", ring_->name(slot), ": ", s.message()));
  }
}

WorkerReport Soak::Totals() const {
  WorkerReport t = retired_;
  for (const WorkerReport& r : last_) t.Add(r);
  return t;
}

void Soak::Sample(absl::Time start) {
  SoakSample sample;
  const absl::Time now = absl::Now();
  sample.elapsed = now - start;
  for (int i = 0; i < ring_->size(); ++i) {
    if (!ring_->alive(i)) continue;  // a failed restart, already reported
    absl::StatusOr<WorkerReport> r = ring_->worker(i).Report(kReplyTimeout);
    if (!r.ok()) {
      Fail(absl::StrCat(ring_->name(i), " (pid ", ring_->worker(i).pid(),
                        ") did not report: ", r.status().message()));
      continue;
    }
    last_[i] = *r;
    sample.worker_fds_total += r->open_fds;
    sample.worker_fds_max = std::max(sample.worker_fds_max, r->open_fds);
    sample.worker_mappings_total += r->segment_mappings;
    sample.ports_open += r->ports_open;
  }
  const WorkerReport totals = Totals();
  WorkerReport window = totals;
  window.Subtract(previous_totals_);
  const double seconds = absl::ToDoubleSeconds(now - previous_sample_);
  sample.messages_per_second = window.messages_received / seconds;
  sample.megabytes_per_second = window.bytes_received / seconds / 1e6;
  sample.latency_p50 = window.LatencyQuantile(0.50);
  sample.latency_p99 = window.LatencyQuantile(0.99);
  sample.restarts = result_.restarts;
  sample.corrupt = totals.corrupt;
  sample.lost = totals.lost;
  sample.duplicated = totals.duplicated;
  previous_totals_ = totals;
  previous_sample_ = now;

  v1::GetStatsResponse stats;
  if (grpc::Status s = stub_->GetStats(Context().get(), {}, &stats); s.ok()) {
    sample.daemon_rss_bytes = stats.daemon().rss_bytes();
  } else {
    Fail(absl::StrCat("GetStats: ", Describe(s)));
  }
  sample.daemon_fds = CountOpenFds(daemon_->pid());
  if (absl::Status s = ring_->CheckRegistry(&sample.registry_processes,
                                            &sample.registry_ports);
      !s.ok()) {
    Fail(std::string(s.message()));
  }
  Log(FormatSample(sample));
  result_.samples.push_back(sample);
}

void Soak::CheckGrowth() {
  // The samples after warm-up; compare the mean of the first two with the
  // mean of the last two. A leak that grows with time (per restart, per
  // message, per port) shows up as a ratio well above 1.
  std::vector<const SoakSample*> steady;
  for (const SoakSample& s : result_.samples) {
    if (s.elapsed >= options_.warmup) steady.push_back(&s);
  }
  if (steady.size() < 2) {
    Log("growth check skipped: fewer than two samples after warm-up");
    return;
  }
  const size_t k = steady.size() >= 4 ? 2 : 1;
  auto mean = [&](bool last, auto field) {
    double sum = 0;
    for (size_t i = 0; i < k; ++i) {
      sum += field(*steady[last ? steady.size() - 1 - i : i]);
    }
    return sum / k;
  };
  struct Check {
    const char* name;
    std::function<double(const SoakSample&)> field;
    double ratio;  // allowed relative growth
    double slack;  // plus this much, absolute
  };
  const double workers = options_.workers;
  const Check checks[] = {
      {"daemon RSS (bytes)",
       [](const SoakSample& s) { return double(s.daemon_rss_bytes); }, 0.25,
       8 << 20},
      {"daemon fds", [](const SoakSample& s) { return double(s.daemon_fds); },
       0.0, 8},
      {"worker fds (total)",
       [](const SoakSample& s) { return double(s.worker_fds_total); }, 0.05,
       2 * workers / 10 + 8},
      {"worker fds (largest worker)",
       [](const SoakSample& s) { return double(s.worker_fds_max); }, 0.0, 4},
      {"worker segment mappings (total)",
       [](const SoakSample& s) { return double(s.worker_mappings_total); },
       0.25, 4 * workers / 10 + 16},
  };
  for (const Check& c : checks) {
    const double first = mean(false, c.field);
    const double last = mean(true, c.field);
    const double allowed = first * (1 + c.ratio) + c.slack;
    if (last > allowed) {
      Fail(absl::StrFormat(
          "%s grew from %.0f to %.0f (allowed up to %.0f): a leak?", c.name,
          first, last, allowed));
    }
  }
}

void Soak::Shutdown() {
  absl::StatusOr<std::vector<WorkerReport>> final_reports =
      ring_->FinishAll(kReplyTimeout);
  if (!final_reports.ok()) {
    Fail(absl::StrCat("finishing the workers: ",
                      final_reports.status().message()));
  } else {
    for (int i = 0; i < ring_->size(); ++i) {
      const WorkerReport& r = (*final_reports)[i];
      if (r.pid == 0) continue;  // was dead
      last_[i] = r;
      if (r.segment_mappings != 0 || r.ports_open != 0) {
        Fail(absl::StrCat(ring_->name(i), " still held ", r.segment_mappings,
                          " segment mappings and ", r.ports_open,
                          " ports after closing every port"));
      }
    }
  }
  result_.totals = Totals();
  ring_.reset();
  // The daemon drops each registration when its link closes; then it must
  // be back where it started: no process, no port, its idle fds.
  v1::GetStatsResponse stats;
  const bool back = Eventually(
      [&] {
        stats.Clear();
        const grpc::Status s = stub_->GetStats(Context().get(), {}, &stats);
        result_.daemon_fds_after = CountOpenFds(daemon_->pid());
        return s.ok() && stats.daemon().processes() == 0 &&
               stats.daemon().ports() == 0 &&
               result_.daemon_fds_after <= result_.daemon_fds_idle;
      },
      absl::Seconds(30), absl::Milliseconds(20));
  if (!back) {
    Fail(absl::StrCat("after every worker ended the daemon still has ",
                      stats.daemon().processes(), " processes, ",
                      stats.daemon().ports(), " ports and ",
                      result_.daemon_fds_after, " fds (",
                      result_.daemon_fds_idle, " before the first worker)"));
  }
  absl::StatusOr<int> code = daemon_->Stop(absl::Seconds(10));
  if (!code.ok() || *code != 0) {
    Fail(absl::StrCat("shmportd did not stop cleanly: ",
                      code.ok() ? absl::StrCat("exit ", *code)
                                : std::string(code.status().message())));
  }
}

absl::StatusOr<SoakResult> Soak::Run() {
  absl::StatusOr<std::unique_ptr<DaemonProcess>> daemon = DaemonProcess::Start(
      {.config_text = "limits { registrations_per_second: 100000 "
                      "registration_burst: 100000 }"});
  if (!daemon.ok()) return daemon.status();
  daemon_ = *std::move(daemon);
  stub_ = daemon_->NewStub();
  // One call first, so that the idle count includes our own connection.
  v1::GetStatsResponse stats;
  if (grpc::Status s = stub_->GetStats(Context().get(), {}, &stats); !s.ok()) {
    return absl::UnavailableError(
        absl::StrCat("GetStats on a fresh shmportd: ", Describe(s)));
  }
  result_.daemon_fds_idle = CountOpenFds(daemon_->pid());
  Log(absl::StrCat("shmportd pid ", daemon_->pid(), ", ",
                   result_.daemon_fds_idle, " fds idle; starting ",
                   options_.workers, " workers x ", options_.ports_per_worker,
                   " ports, ", options_.stream.messages_per_second,
                   " msg/s per port end, for ",
                   absl::FormatDuration(options_.duration)));
  WorkerRingOptions ring;
  ring.workers = options_.workers;
  ring.ports_per_worker = options_.ports_per_worker;
  ring.geometry = SoakGeometry();
  ring.stream = options_.stream;
  ring.name_prefix = "soak";
  absl::StatusOr<std::unique_ptr<WorkerRing>> started =
      WorkerRing::Start(stub_.get(), ring);
  if (!started.ok()) return started.status();
  ring_ = *std::move(started);
  const absl::Time start = absl::Now();
  previous_sample_ = start;
  absl::Time next_sample = start + options_.report_interval;
  absl::Time next_restart = options_.restart_interval > absl::ZeroDuration()
                                ? start + options_.restart_interval
                                : absl::InfiniteFuture();
  const absl::Time end = start + options_.duration;
  while (true) {
    const absl::Time now = absl::Now();
    if (now >= next_sample) {
      Sample(start);
      next_sample += options_.report_interval;
      if (now >= end) break;
      continue;
    }
    if (now >= next_restart && now < end) {
      Restart(static_cast<int>(rng_() % options_.workers));
      next_restart += options_.restart_interval;
      continue;
    }
    // Pacing the run, not synchronising with anything.
    absl::SleepFor(std::min({next_sample, next_restart}) - now);
  }
  CheckGrowth();
  Shutdown();
  const WorkerReport& t = result_.totals;
  if (t.corrupt + t.lost + t.duplicated > 0) {
    Fail(absl::StrCat("data errors: ", t.corrupt, " corrupt, ", t.lost,
                      " lost, ", t.duplicated, " repeated messages"));
  }
  if (t.closed_by_protocol > 0) {
    Fail(absl::StrCat(t.closed_by_protocol,
                      " ports closed with a protocol error between honest "
                      "peers"));
  }
  if (t.port_open_failures > 0) {
    Fail(absl::StrCat(t.port_open_failures,
                      " port handshakes failed between live workers"));
  }
  if (t.messages_received == 0) Fail("no message was received at all");
  Log(result_.Summary());
  return std::move(result_);
}

}  // namespace

std::string FormatSample(const SoakSample& s) {
  return absl::StrFormat(
      "[%4ds] %7.0f msg/s %7.1f MB/s p50 %s p99 %s | daemon rss %s fds %d | "
      "registry %d proc %d ports | workers fds %d (max %d) maps %d ports %u | "
      "restarts %u | corrupt %u lost %u dup %u",
      absl::ToInt64Seconds(s.elapsed), s.messages_per_second,
      s.megabytes_per_second, Micros(s.latency_p50), Micros(s.latency_p99),
      Mib(s.daemon_rss_bytes), s.daemon_fds, s.registry_processes,
      s.registry_ports, s.worker_fds_total, s.worker_fds_max,
      s.worker_mappings_total, s.ports_open, s.restarts, s.corrupt, s.lost,
      s.duplicated);
}

std::string SoakResult::Summary() const {
  double rate = 0, mbps = 0;
  absl::Duration p99;
  for (const SoakSample& s : samples) {
    rate += s.messages_per_second;
    mbps += s.megabytes_per_second;
    p99 = std::max(p99, s.latency_p99);
  }
  if (!samples.empty()) {
    rate /= samples.size();
    mbps /= samples.size();
  }
  std::string numbers = absl::StrFormat(
      "%u msgs, %.0f msg/s %.1f MB/s avg, worst p99 %s, %u restarts, "
      "corrupt %u lost %u dup %u",
      totals.messages_received, rate, mbps, Micros(p99), restarts,
      totals.corrupt, totals.lost, totals.duplicated);
  if (samples.size() >= 2) {
    absl::StrAppend(
        &numbers, ", daemon rss ", Mib(samples.front().daemon_rss_bytes),
        " -> ", Mib(samples.back().daemon_rss_bytes), ", fds ",
        samples.front().daemon_fds, " -> ", samples.back().daemon_fds,
        " (idle ", daemon_fds_idle, ", after ", daemon_fds_after, ")");
  }
  if (failures.empty()) return absl::StrCat("ok (", numbers, ")");
  return absl::StrCat("FAILED: ", failures.size(),
                      " problems, first: ", failures.front(), " (", numbers,
                      ")");
}

absl::StatusOr<SoakResult> RunSoak(const SoakOptions& options) {
  Soak soak(options);
  return soak.Run();
}

}  // namespace shmport::testing
