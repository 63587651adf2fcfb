// PipeTransport ("pipe"): two pipes, one per direction, copying through
// the kernel; messages are framed by their fixed size.
#ifndef SHMPORT_BENCH_PIPE_TRANSPORT_H_
#define SHMPORT_BENCH_PIPE_TRANSPORT_H_

#include <cstddef>
#include <memory>
#include <string>

#include "bench/transport.h"

namespace shmport::bench {

class PipeTransport : public Transport {
 public:
  // `pipe_bytes` > 0 sets F_SETPIPE_SZ on both pipes (bounded by
  // /proc/sys/fs/pipe-max-size); 0 keeps the kernel default (64 KiB).
  explicit PipeTransport(int pipe_bytes = 0) : pipe_bytes_(pipe_bytes) {}

  std::string name() const override { return "pipe"; }
  absl::StatusOr<std::unique_ptr<Connection>> Connect(
      size_t payload_bytes) const override;

 private:
  int pipe_bytes_;
};

}  // namespace shmport::bench

#endif  // SHMPORT_BENCH_PIPE_TRANSPORT_H_
