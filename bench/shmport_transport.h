// ShmportTransport ("shmport", "shmport-spin"): a shmport Port between the
// two processes, made exactly as a user would without the daemon: a
// SOCK_SEQPACKET socketpair before fork, Port::Open on each end with the
// other's pid as the expected identity. The sender fills each payload
// directly in its shared-memory Buffer; the receiver reads it in place.
//
// The spin variant receives by calling Port::TryReceive() in a loop instead
// of blocking (a latency row only: it burns a core on each side). The C
// variant ("shmport-c") does what "shmport" does through the C ABI
// (bench/shmport_c_endpoint.h).
#ifndef SHMPORT_BENCH_SHMPORT_TRANSPORT_H_
#define SHMPORT_BENCH_SHMPORT_TRANSPORT_H_

#include <cstddef>
#include <memory>
#include <string>

#include "bench/transport.h"

namespace shmport::bench {

class ShmportTransport : public Transport {
 public:
  enum class Api { kCpp, kC };
  explicit ShmportTransport(bool spin, Api api = Api::kCpp)
      : spin_(spin), api_(api) {}

  std::string name() const override {
    if (api_ == Api::kC) return "shmport-c";
    return spin_ ? "shmport-spin" : "shmport";
  }
  bool Supports(Mode mode) const override {
    return !spin_ || mode == Mode::kPingPong;
  }
  absl::StatusOr<std::unique_ptr<Connection>> Connect(
      size_t payload_bytes) const override;

 private:
  bool spin_;
  Api api_;
};

}  // namespace shmport::bench

#endif  // SHMPORT_BENCH_SHMPORT_TRANSPORT_H_
