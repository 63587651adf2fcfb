// Helpers that turn errno values into absl::Status with actionable messages.
#ifndef SHMPORT_COMMON_ERRORS_H_
#define SHMPORT_COMMON_ERRORS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace shmport {

// Maps `error` (an errno value) to the closest absl status code and builds a
// message "<what>: <strerror> (errno N)". Examples: EAGAIN and ENOMEM ->
// RESOURCE_EXHAUSTED, EPIPE/ECONNRESET -> UNAVAILABLE, EACCES/EPERM ->
// PERMISSION_DENIED, EINVAL -> INVALID_ARGUMENT, ENOSYS -> UNIMPLEMENTED.
absl::Status ErrnoToStatus(int error, absl::string_view what);

// Marks a status as "the operation would block" (non-blocking I/O): code
// UNAVAILABLE plus a payload, so callers can tell it from a closed peer.
absl::Status WouldBlockError(absl::string_view what);
bool IsWouldBlock(const absl::Status& status);

// An error code that came from another process (a google.rpc.Code in a
// frame): the matching absl code for 1..16, else `fallback` (0 is not an
// error, and anything else is not a code this build knows).
absl::StatusCode StatusCodeFromWire(int code, absl::StatusCode fallback);
// A status that came from another process as a code and a message (an
// AttachResult, a gRPC answer): OK for 0, that code for 1..16, and INTERNAL
// naming the code for anything else (a newer peer's).
absl::Status StatusFromWire(int code, absl::string_view message);

}  // namespace shmport

#endif  // SHMPORT_COMMON_ERRORS_H_
