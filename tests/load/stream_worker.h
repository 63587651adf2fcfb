// StreamWorker: a client process that streams checked data over every port
// the daemon hands it, for the soak driver and the fault tests.
//
// The child is a process of its own (fork and exec of stream_worker_main:
// a bare fork of a multi-threaded test inherits the locks its other threads
// held, e.g. ASan's allocator's, and the child's threads may wait on them
// forever). It never touches gRPC: the parent registers on its behalf, the
// child attaches the broker link, and from then on it takes in every
// PortOpened notice. Each port gets a thread that sends sequence-numbered,
// patterned messages of mixed sizes at a fixed rate and checks everything it
// receives: the sequence has no gap and no repeat, every byte matches its
// pattern, and the one-way latency (sender's clock to receiver's clock,
// CLOCK_MONOTONIC is host-wide) goes into a histogram. The parent asks for
// cumulative reports over a pipe.
//
// A port that closes (peer killed, BYE, daemon-side close) ends its thread;
// the worker carries on with its other ports. Losing the daemon does not
// stop the data plane: the worker keeps streaming on the ports it has.
#ifndef SHMPORT_TESTS_LOAD_STREAM_WORKER_H_
#define SHMPORT_TESTS_LOAD_STREAM_WORKER_H_

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/util/piped_child.h"

namespace shmport::testing {

struct StreamOptions {
  // Messages per second each port end sends (0: this worker only receives).
  uint32_t messages_per_second = 10;
  // Payload sizes are mixed: about 40% inline (< 1 KiB), 35% up to 16 KiB,
  // 20% up to 128 KiB and 5% up to max_payload. At least 24 bytes (the
  // header every message carries).
  uint32_t max_payload = 512 * 1024;
  // Bounds on the worker's own blocking calls. A call that hits its bound
  // is counted (allocate_stalls / send_stalls) and retried with the same
  // sequence number, so nothing the worker counts as sent is ever lost.
  absl::Duration allocate_timeout = absl::Seconds(1);
  absl::Duration send_timeout = absl::Seconds(2);
  // The shared-memory ring of each port end (PortOptions::ring_capacity).
  uint32_t ring_capacity = 64 * 1024;
  uint64_t seed = 1;
};
// It crosses the command pipe as plain bytes.
static_assert(std::is_trivially_copyable_v<StreamOptions>);

// Cumulative counters of one worker since it started. Plain data: it
// crosses a pipe in one atomic write.
struct WorkerReport {
  static constexpr int kLatencyBuckets = 104;

  uint32_t magic = 0;
  int32_t pid = 0;
  uint64_t messages_sent = 0;
  uint64_t bytes_sent = 0;
  uint64_t messages_received = 0;
  uint64_t bytes_received = 0;
  // Failures of the data itself: bytes that differ from their pattern or a
  // header that lies about the size, sequence gaps (a message lost on a
  // live port) and repeats.
  uint64_t corrupt = 0;
  uint64_t lost = 0;
  uint64_t duplicated = 0;
  // Ports: handed over by the daemon, whose HELLO succeeded, open now, and
  // how those that ended did so.
  uint64_t ports_offered = 0;
  uint64_t ports_opened = 0;
  uint64_t ports_open = 0;
  uint64_t port_open_failures = 0;
  uint64_t closed_by_peer = 0;      // EOF or BYE: the peer ended or closed
  uint64_t closed_by_protocol = 0;  // a protocol error (never expected)
  uint64_t closed_otherwise = 0;
  uint64_t port_closed_notices = 0;  // PortClosed frames from the daemon
  // Bounded calls that hit their bound, and calls that failed otherwise.
  uint64_t allocate_stalls = 0;
  uint64_t send_stalls = 0;
  uint64_t send_errors = 0;
  // The broker link ended (daemon gone).
  uint64_t daemon_lost = 0;
  // Broker frames refused (a PortOpened whose fd did not fit, ...).
  uint64_t frames_dropped = 0;
  // What the worker holds right now.
  int32_t open_fds = 0;
  int32_t segment_mappings = 0;
  // One-way latency histogram: see LatencyBucket.
  std::array<uint64_t, kLatencyBuckets> latency{};

  // Adds/subtracts every counter and bucket (not the "right now" fields).
  void Add(const WorkerReport& other);
  void Subtract(const WorkerReport& other);
  // The latency below which `quantile` (0..1] of the samples fall, from the
  // histogram (upper edge of the bucket), or zero without samples.
  absl::Duration LatencyQuantile(double quantile) const;
  uint64_t latency_samples() const;
};

// Bucket of a latency of `micros` microseconds: 0 below 1 µs, else four
// buckets per power of two, capped at the last bucket (~ 2^25 µs = 33 s).
int LatencyBucket(uint64_t micros);
// The upper edge of bucket `b`, in microseconds.
uint64_t LatencyBucketUpperMicros(int b);

// The parent's handle on one worker. Thread-safety: none; one thread drives
// each StreamWorker.
class StreamWorker {
 public:
  // Starts a worker process: forks and execs //tests/load:stream_worker_main
  // (a fork alone of a multi-threaded test would inherit locks held by its
  // other threads). It waits for commands; it exits 0 after Finish() or
  // when the parent's end of its command pipe closes (the parent died).
  // NOT_FOUND without the binary in the runfiles.
  static absl::StatusOr<std::unique_ptr<StreamWorker>> Fork(
      const StreamOptions& options);
  // Where the worker binary is: the runfiles of the running test or
  // binary, else bazel-bin.
  static std::string FindBinary();

  // SIGKILLs and reaps the child if it still runs.
  ~StreamWorker() = default;
  StreamWorker(const StreamWorker&) = delete;
  StreamWorker& operator=(const StreamWorker&) = delete;

  pid_t pid() const { return child_.pid(); }

  // Has the child attach its broker link for the registration `process_id`
  // (registered by the parent with this worker's pid); the daemon's answer.
  absl::Status Attach(const std::string& broker_address, uint64_t process_id,
                      const std::string& token, absl::Duration timeout);

  // The worker's cumulative counters, now. DEADLINE_EXCEEDED when it does
  // not answer in time (e.g. stopped), UNAVAILABLE when it is gone.
  absl::StatusOr<WorkerReport> Report(absl::Duration timeout);

  // Runs the worker out of file descriptors: from now on it can open at
  // most `spare` more (RLIMIT_NOFILE, see tests/fault/fd_limit.h); a
  // negative `spare` lifts the limit again. Returns its counters, taken
  // after the change.
  absl::StatusOr<WorkerReport> LimitFds(int spare, absl::Duration timeout);

  // Closes every port (each peer gets a BYE), waits for the port threads,
  // returns the final counters and waits for the exit ("exit 0").
  absl::StatusOr<WorkerReport> Finish(absl::Duration timeout);

  void Kill(int signal) { child_.process().Kill(signal); }
  // Waits for the child to end: "exit 0", "signal 9", "timeout", ...
  std::string Wait(absl::Duration timeout) {
    return child_.process().Wait(timeout);
  }

 private:
  explicit StreamWorker(PipedChild child) : child_(std::move(child)) {}
  PipedChild child_;           // its stdin: commands; its stdout: replies
  uint32_t next_request_ = 0;  // matches replies to requests
};

// The worker process's body (stream_worker_main.cc): reads its
// StreamOptions from `commands`, then serves commands until Finish or EOF.
// Returns its exit code.
int RunStreamWorker(int commands, int replies);

}  // namespace shmport::testing

#endif  // SHMPORT_TESTS_LOAD_STREAM_WORKER_H_
