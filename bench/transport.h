// Transport: the seam between the benchmark's workloads and the ways of
// moving bytes between two processes (shmport, socketpair, pipe, gRPC).
//
// A Transport makes a Connection in the parent process, before fork; each
// of the two forked children then opens its own side of it and gets an
// Endpoint. The workloads (workload.h) drive every transport through the
// same four calls, so each one writes and reads every payload byte the same
// way and only the transport's own cost differs.
#ifndef SHMPORT_BENCH_TRANSPORT_H_
#define SHMPORT_BENCH_TRANSPORT_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace shmport::bench {

enum class Mode {
  kThroughput,  // one way, as fast as the receiver keeps up
  kPingPong,    // one message each way per round trip, blocking
};

// kSender produces (throughput) or pings (ping-pong) and, for gRPC, is the
// client; kReceiver consumes or echoes and is the gRPC server.
enum class Side { kSender, kReceiver };

// One side of a connection, used by one thread of one process. Every
// message has the connection's payload size.
class Endpoint {
 public:
  virtual ~Endpoint() = default;

  // A writable buffer of exactly payload_bytes for the next message; valid
  // until Send(). The caller writes every byte of it.
  virtual absl::StatusOr<absl::Span<uint8_t>> PrepareSend() = 0;
  // Sends the buffer PrepareSend returned.
  virtual absl::Status Send() = 0;
  // Waits for the next message (bounded by the transport's timeout) and
  // returns its payload_bytes bytes, valid until Release().
  virtual absl::StatusOr<absl::Span<const uint8_t>> Receive() = 0;
  // Done with the message Receive returned (frees it where that matters).
  virtual void Release() = 0;
};

// A connection made before fork. Each child calls Open once, for its side;
// the parent only destroys it (closing its copies of the descriptors).
class Connection {
 public:
  virtual ~Connection() = default;

  // In the child that plays `side`: drops the other side's resources and
  // connects. `peer_pid` is the other child's pid.
  virtual absl::StatusOr<std::unique_ptr<Endpoint>> Open(Side side,
                                                         pid_t peer_pid) = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;

  // The name in reports: shmport, shmport-spin, unix, pipe, grpc.
  virtual std::string name() const = 0;
  virtual bool Supports(Mode mode) const { return true; }
  // Creates the kernel objects both children will inherit. Called in the
  // parent, which must stay single-threaded (it forks afterwards).
  virtual absl::StatusOr<std::unique_ptr<Connection>> Connect(
      size_t payload_bytes) const = 0;
};

}  // namespace shmport::bench

#endif  // SHMPORT_BENCH_TRANSPORT_H_
