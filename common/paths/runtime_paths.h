// Where a shmportd listens and where its clients find it, derived from one
// gRPC address. Shared by the daemon, the client library and the CLI, so all
// three agree without configuration. Knows nothing of gRPC itself.
#ifndef SHMPORT_COMMON_PATHS_RUNTIME_PATHS_H_
#define SHMPORT_COMMON_PATHS_RUNTIME_PATHS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace shmport {

// The longest path a sockaddr_un can hold (108 bytes including the NUL).
inline constexpr size_t kMaxUnixSocketPath = 107;

// The files of one daemon instance. They all live in `directory`, so one
// daemon per directory: the broker socket and the admin token sit next to
// the control socket under fixed names.
struct RuntimePaths {
  // The gRPC target clients dial: "unix:/run/user/1000/shmport/control.sock"
  // or "unix-abstract:name".
  std::string control_address;
  // Holds the sockets and admin.token; mode 0700 when the daemon creates it.
  std::string directory;
  // Filesystem path of the control socket; empty for an abstract address.
  std::string control_socket_path;
  // The broker's SOCK_SEQPACKET address: a filesystem path, or "@name" for
  // the abstract namespace (when the control address is abstract).
  std::string broker_address;
  // The operator's secret (mode 0600), read by the CLI for admin calls.
  std::string admin_token_path;
};

// The directory a daemon uses by default: $XDG_RUNTIME_DIR/shmport when that
// variable names an absolute path, else /tmp/shmport-$UID ($SHMPORT_TMPDIR,
// when absolute, replaces /tmp: for tests that play two users on one host).
// Another user can create the /tmp one first: see daemon_identity.h.
std::string DefaultRuntimeDirectory();

// Where a daemon listens by default: $SHMPORT_ADDRESS when set and
// non-empty, else the per-user socket ("unix:" + DefaultRuntimeDirectory()
// + "/control.sock"). Never the system-wide one: that belongs to its
// service manager. Clients search further: DefaultControlAddress in
// common/paths/reachability.h.
std::string DefaultListenAddress();

// Derives every path from a control address.
//  * "unix:PATH" or "unix://PATH" (absolute or relative): the directory is
//    PATH's directory, the broker socket is "broker.sock" in it.
//  * "unix-abstract:NAME": the broker is "@NAME.broker" (abstract too); the
//    admin token goes to `runtime_dir`, which is then required.
// `runtime_dir`, when non-empty, overrides the directory for the broker
// socket (path addresses only) and the admin token.
// Errors (INVALID_ARGUMENT, naming the value): an empty or non-unix address
// (TCP would need TLS, which shmport does not support), an empty path or
// name, or a socket path longer than kMaxUnixSocketPath bytes.
absl::StatusOr<RuntimePaths> RuntimePathsFor(
    absl::string_view address, absl::string_view runtime_dir = "");

}  // namespace shmport

#endif  // SHMPORT_COMMON_PATHS_RUNTIME_PATHS_H_
