// TransportCatalog: the transports of the comparison, by report name.
#ifndef SHMPORT_BENCH_TRANSPORT_CATALOG_H_
#define SHMPORT_BENCH_TRANSPORT_CATALOG_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "bench/transport.h"

namespace shmport::bench {

// Every name MakeTransport knows, in report order.
std::vector<std::string> AllTransportNames();

// Kernel buffer sizes for the copying baselines; 0 keeps the defaults (what
// a plain user gets, and what the reports use unless told otherwise).
struct BaselineTuning {
  int unix_socket_buffer_bytes = 0;  // SO_SNDBUF and SO_RCVBUF
  int pipe_bytes = 0;                // F_SETPIPE_SZ
};

// "shmport", "shmport-spin", "shmport-c", "unix", "pipe", "grpc" or
// "handoff" (the shared-memory reference, handoff_transport.h);
// INVALID_ARGUMENT naming the known ones otherwise.
absl::StatusOr<std::shared_ptr<const Transport>> MakeTransport(
    absl::string_view name, const BaselineTuning& tuning = {});

}  // namespace shmport::bench

#endif  // SHMPORT_BENCH_TRANSPORT_CATALOG_H_
