// FdEndpoint: a benchmark endpoint over plain file descriptors, the way an
// application would use a socket or a pipe: write() from its own buffer,
// read() into its own buffer (one kernel copy each way).
#ifndef SHMPORT_BENCH_FD_ENDPOINT_H_
#define SHMPORT_BENCH_FD_ENDPOINT_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "bench/transport.h"
#include "shmport/unique_fd.h"

namespace shmport::bench {

enum class Framing {
  kDatagram,  // one write, one recv per message (SOCK_SEQPACKET)
  kStream,    // a byte stream; messages are payload_bytes long each
};

// Blocking reads and writes; a peer that stops responding is the cell
// runner's business (it kills both children at the cell's deadline).
class FdEndpoint : public Endpoint {
 public:
  // `send_fd` and `recv_fd` may be two descriptors of one socket (dup).
  FdEndpoint(UniqueFd send_fd, UniqueFd recv_fd, size_t payload_bytes,
             Framing framing);

  absl::StatusOr<absl::Span<uint8_t>> PrepareSend() override;
  absl::Status Send() override;
  absl::StatusOr<absl::Span<const uint8_t>> Receive() override;
  void Release() override {}

 private:
  absl::Status ReceiveDatagram();
  absl::Status ReceiveStream();

  UniqueFd send_fd_;
  UniqueFd recv_fd_;
  size_t payload_bytes_;
  Framing framing_;
  // The application's own buffers, allocated once per endpoint.
  std::unique_ptr<uint8_t[]> send_buffer_;
  std::unique_ptr<uint8_t[]> recv_buffer_;
};

}  // namespace shmport::bench

#endif  // SHMPORT_BENCH_FD_ENDPOINT_H_
