// Why a client could not reach shmportd, in words a person can act on.
// One explanation for the library (Session::Connect) and the CLI, so that
// the same mistake reads the same wherever it is made. No gRPC here: the
// caller passes the transport's own words.
#ifndef SHMPORT_COMMON_PATHS_REACHABILITY_H_
#define SHMPORT_COMMON_PATHS_REACHABILITY_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace shmport {

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
absl::Status ExplainUnreachable(absl::string_view address,
                                absl::string_view transport_reason);

}  // namespace shmport

#endif  // SHMPORT_COMMON_PATHS_REACHABILITY_H_
