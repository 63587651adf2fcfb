// Workload: what each of the two processes of a benchmark cell does with
// its Endpoint. The same four loops drive every transport.
//
// Throughput: the sender streams kWarmup messages for `warmup`, kMeasured
// messages for `duration`, then one kEnd declaring how many messages it
// sent and their checksum. The receiver reads and verifies each message,
// and times the measured window itself: from the arrival of the first
// kMeasured message to the arrival of kEnd, during which it consumed every
// later kMeasured message. Its clock therefore sees what actually arrived.
//
// Ping-pong: the sender sends one message and waits for a same-sized reply
// (kPong), timing each round trip; the receiver verifies and answers.
#ifndef SHMPORT_BENCH_WORKLOAD_H_
#define SHMPORT_BENCH_WORKLOAD_H_

#include <array>
#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "bench/payload.h"
#include "bench/transport.h"

namespace shmport::bench {

struct WorkloadConfig {
  size_t payload_bytes = 64;
  // How much of each payload the sender writes and the receiver reads.
  Touch touch = Touch::kAll;
  absl::Duration warmup = absl::Milliseconds(200);
  absl::Duration duration = absl::Seconds(1);
  // Ping-pong keeps measuring past `duration` until it has this many round
  // trips (so that p99 means something for slow cells), but never past
  // `max_duration`.
  uint64_t min_round_trips = 100;
  absl::Duration max_duration = absl::Seconds(4);
  // The CPU each child runs on, [0] the sender and [1] the receiver; -1
  // leaves the placement to the scheduler. A fixed placement removes the
  // run-to-run spread that migrations give a blocking receiver.
  std::array<int, 2> cpus = {-1, -1};
};

// What one process of a cell measured; crosses a pipe from the child to the
// parent, so it is a plain struct of fixed size (below PIPE_BUF: one write).
struct RoleReport {
  int32_t ok = 0;
  char error[480] = {};
  // Throughput (receiver): measured messages and the window they took.
  // Ping-pong (sender): round trips measured and their total time.
  uint64_t messages = 0;
  double seconds = 0;
  // Ping-pong (sender): round-trip time percentiles.
  double p50_us = 0;
  double p99_us = 0;
  double p999_us = 0;
  double max_us = 0;
};

// Fills `report` with `status`'s message when it is an error.
void SetOutcome(const absl::Status& status, RoleReport& report);

// The four roles. Each returns an error (and the checksum mismatches are
// DATA_LOSS) rather than crash; the report holds the numbers.
absl::Status RunProducer(Endpoint& endpoint, const WorkloadConfig& config,
                         RoleReport& report);
absl::Status RunConsumer(Endpoint& endpoint, const WorkloadConfig& config,
                         RoleReport& report);
absl::Status RunPinger(Endpoint& endpoint, const WorkloadConfig& config,
                       RoleReport& report);
absl::Status RunEchoer(Endpoint& endpoint, const WorkloadConfig& config,
                       RoleReport& report);

// Which role a side plays in a mode.
absl::Status RunRole(Mode mode, Side side, Endpoint& endpoint,
                     const WorkloadConfig& config, RoleReport& report);

}  // namespace shmport::bench

#endif  // SHMPORT_BENCH_WORKLOAD_H_
