// UnixTransport ("unix"): a plain AF_UNIX socketpair, copying through the
// kernel. SOCK_SEQPACKET up to kMaxSeqpacketPayload (one datagram per
// message, like a shmport port's socket), SOCK_STREAM above, where a
// datagram would not fit the socket buffer.
#ifndef SHMPORT_BENCH_UNIX_TRANSPORT_H_
#define SHMPORT_BENCH_UNIX_TRANSPORT_H_

#include <cstddef>
#include <memory>
#include <string>

#include "bench/transport.h"

namespace shmport::bench {

inline constexpr size_t kMaxSeqpacketPayload = 64 * 1024;

class UnixTransport : public Transport {
 public:
  // `socket_buffer_bytes` > 0 sets SO_SNDBUF and SO_RCVBUF on both ends;
  // 0 keeps the kernel defaults.
  explicit UnixTransport(int socket_buffer_bytes = 0)
      : socket_buffer_bytes_(socket_buffer_bytes) {}

  std::string name() const override { return "unix"; }
  absl::StatusOr<std::unique_ptr<Connection>> Connect(
      size_t payload_bytes) const override;

 private:
  int socket_buffer_bytes_;
};

}  // namespace shmport::bench

#endif  // SHMPORT_BENCH_UNIX_TRANSPORT_H_
