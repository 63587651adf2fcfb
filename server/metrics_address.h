// Where shmportd's Prometheus endpoint may listen. The metrics carry
// process and port names, so by default only this host may read them.
#ifndef SHMPORT_SERVER_METRICS_ADDRESS_H_
#define SHMPORT_SERVER_METRICS_ADDRESS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace shmport::server {

// Checks a --metrics_listen value, "HOST:PORT" with HOST an IPv4 address,
// "[IPv6]" or "localhost" and PORT in [0, 65535] (0: any free port), and
// returns it in the form the HTTP server binds ("127.0.0.1:9464",
// "[::1]:9464"). A HOST outside the loopback range (127.0.0.0/8, ::1,
// localhost) is refused unless `allow_remote`. Errors: INVALID_ARGUMENT
// naming the value and what is wrong with it.
absl::StatusOr<std::string> ValidateMetricsListen(absl::string_view address,
                                                  bool allow_remote);

}  // namespace shmport::server

#endif  // SHMPORT_SERVER_METRICS_ADDRESS_H_
