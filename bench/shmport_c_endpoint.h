// The "shmport-c" row's endpoint: the "shmport" row's workload through the
// C ABI (<shmport/shmport.h>) instead of the C++ classes. The port opens
// with shmport_port_open_socket, each payload is filled in its
// shmport_buffer and read in place from its shmport_message. Against
// "shmport" it measures the C layer's cost: a heap handle per buffer and
// per message, and a status code per call.
#ifndef SHMPORT_BENCH_SHMPORT_C_ENDPOINT_H_
#define SHMPORT_BENCH_SHMPORT_C_ENDPOINT_H_

#include <sys/types.h>

#include <cstddef>
#include <memory>

#include "absl/status/statusor.h"
#include "bench/transport.h"
#include "shmport/unique_fd.h"

namespace shmport::bench {

// Opens a port over `socket` (one end of the connection's socketpair) with
// `peer_pid` as the expected peer, through the C functions.
absl::StatusOr<std::unique_ptr<Endpoint>> OpenCEndpoint(UniqueFd socket,
                                                        pid_t peer_pid,
                                                        size_t payload_bytes);

}  // namespace shmport::bench

#endif  // SHMPORT_BENCH_SHMPORT_C_ENDPOINT_H_
