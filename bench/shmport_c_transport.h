// ShmportCTransport ("shmport-c"): the "shmport" row through the C ABI
// (<shmport/shmport.h>) instead of the C++ classes: the same socketpair
// made before fork, shmport_port_open_socket on each end, the payload
// filled in its shmport_buffer and read in place from its shmport_message.
// What it measures against "shmport" is the C layer's cost: a heap handle
// per buffer and per message, and a status code per call.
#ifndef SHMPORT_BENCH_SHMPORT_C_TRANSPORT_H_
#define SHMPORT_BENCH_SHMPORT_C_TRANSPORT_H_

#include <cstddef>
#include <memory>
#include <string>

#include "bench/transport.h"

namespace shmport::bench {

class ShmportCTransport : public Transport {
 public:
  std::string name() const override { return "shmport-c"; }
  absl::StatusOr<std::unique_ptr<Connection>> Connect(
      size_t payload_bytes) const override;
};

}  // namespace shmport::bench

#endif  // SHMPORT_BENCH_SHMPORT_C_TRANSPORT_H_
