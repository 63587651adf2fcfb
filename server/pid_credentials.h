// What the kernel says about a process a client merely names by pid.
#ifndef SHMPORT_SERVER_PID_CREDENTIALS_H_
#define SHMPORT_SERVER_PID_CREDENTIALS_H_

#include <sys/types.h>

#include "absl/status/statusor.h"
#include "common/unix_channel.h"

namespace shmport::server {

// The effective uid and gid of process `pid` now (from /proc/PID/status),
// the ids SO_PEERCRED will report if that process connects. Advisory
// only: the process may change them, and a caller that names a pid need
// not be that process. INVALID_ARGUMENT when no such process exists.
absl::StatusOr<Credentials> CredentialsOfPid(pid_t pid);

}  // namespace shmport::server

#endif  // SHMPORT_SERVER_PID_CREDENTIALS_H_
