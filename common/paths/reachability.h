// Why a client could not reach shmportd, in words a person can act on.
// One explanation for the library (Session::Connect) and the CLI, so that
// the same mistake reads the same wherever it is made. No gRPC here: the
// caller passes the transport's own words.
#ifndef SHMPORT_COMMON_PATHS_REACHABILITY_H_
#define SHMPORT_COMMON_PATHS_REACHABILITY_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace shmport {

// The system-wide daemon's control socket (dist/systemd/shmportd.socket).
inline constexpr char kSystemControlSocket[] = "/run/shmport/control.sock";

// The addresses a client given none tries, in order: $SHMPORT_ADDRESS
// alone when it is set and non-empty; else the per-user socket (where
// shmportd listens by default, DefaultListenAddress) and then the
// system-wide `system_socket`.
std::vector<std::string> DefaultControlSearchOrder(
    absl::string_view system_socket = kSystemControlSocket);

// The first address of DefaultControlSearchOrder whose socket file
// exists; when none does, the first (so that an error names the user's
// own default, and ExplainUnreachable lists the others it looked for).
std::string DefaultControlAddress(
    absl::string_view system_socket = kSystemControlSocket);

// OK for an address a client can dial (see RuntimePathsFor); else
// INVALID_ARGUMENT naming the value and the fix: a bare path
// "/tmp/x.sock" is told to write "unix:/tmp/x.sock".
absl::Status ValidateControlAddress(absl::string_view address);

// A daemon's own UNAVAILABLE answers ("the daemon is shutting down") are
// not reachability problems; this tells them from the transport's.
bool IsDaemonMessage(absl::string_view message);

// UNAVAILABLE explaining why nothing answered at `address`, from what the
// socket file says and the transport's reason (gRPC's error text, which
// ends with the system's words, e.g. "... Permission denied"):
//  * nothing there: "cannot reach shmportd: is shmportd running? tried ..."
//    with how to start it;
//  * a socket this user may not open: the daemon runs, but its socket
//    belongs to uid U, mode M: the operator's `socket_group`;
//  * a socket nobody listens on: a stale socket of a daemon that died.
// When `address` is where the default search stopped, the message names
// every address of the search it looked at (the system-wide socket too).
absl::Status ExplainUnreachable(
    absl::string_view address, absl::string_view transport_reason,
    absl::string_view system_socket = kSystemControlSocket);

}  // namespace shmport

#endif  // SHMPORT_COMMON_PATHS_REACHABILITY_H_
