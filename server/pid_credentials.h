// What the kernel says about a process a client merely names by pid.
#ifndef SHMPORT_SERVER_PID_CREDENTIALS_H_
#define SHMPORT_SERVER_PID_CREDENTIALS_H_

#include <sys/types.h>

#include <cstdint>

#include "absl/status/statusor.h"
#include "common/unix_channel.h"

namespace shmport::server {

// The effective uid and gid of process `pid` now (from /proc/PID/status),
// the ids SO_PEERCRED will report if that process connects. Advisory
// only: the process may change them, and a caller that names a pid need
// not be that process. INVALID_ARGUMENT when no such process exists.
absl::StatusOr<Credentials> CredentialsOfPid(pid_t pid);

// A process as the kernel places it: its pid in the daemon's pid
// namespace, its own pid namespace (inode) and the pid it has there.
struct KernelPid {
  pid_t pid = 0;
  uint64_t pid_namespace = 0;
  pid_t namespace_pid = 0;
};

// Whether `peer_pid` (a connection's SO_PEERCRED, numbered in the
// daemon's namespace `daemon_namespace`) is the process a registration
// declared: pid `declared_pid` as pid namespace `declared_namespace`
// numbers it (0: the daemon's). Beside the daemon the pids must be equal;
// in a container the peer's own namespace and innermost pid (/proc) must
// be the declared ones, so a process in another container with the same
// small pid is not it. PERMISSION_DENIED says how they differ.
absl::StatusOr<KernelPid> MatchDeclaredPid(pid_t peer_pid, pid_t declared_pid,
                                           uint64_t declared_namespace,
                                           uint64_t daemon_namespace);

}  // namespace shmport::server

#endif  // SHMPORT_SERVER_PID_CREDENTIALS_H_
