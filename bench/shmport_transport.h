// ShmportTransport ("shmport", "shmport-spin"): a shmport Port between the
// two processes, made exactly as a user would without the daemon: a
// SOCK_SEQPACKET socketpair before fork, Port::Open on each end with the
// other's pid as the expected identity. The sender fills each payload
// directly in its shared-memory Buffer; the receiver reads it in place.
//
// The spin variant receives by calling Port::TryReceive() in a loop instead
// of blocking (a latency row only: it burns a core on each side).
#ifndef SHMPORT_BENCH_SHMPORT_TRANSPORT_H_
#define SHMPORT_BENCH_SHMPORT_TRANSPORT_H_

#include <cstddef>
#include <memory>
#include <string>

#include "bench/transport.h"

namespace shmport::bench {

class ShmportTransport : public Transport {
 public:
  explicit ShmportTransport(bool spin) : spin_(spin) {}

  std::string name() const override {
    return spin_ ? "shmport-spin" : "shmport";
  }
  bool Supports(Mode mode) const override {
    return !spin_ || mode == Mode::kPingPong;
  }
  absl::StatusOr<std::unique_ptr<Connection>> Connect(
      size_t payload_bytes) const override;

 private:
  bool spin_;
};

}  // namespace shmport::bench

#endif  // SHMPORT_BENCH_SHMPORT_TRANSPORT_H_
