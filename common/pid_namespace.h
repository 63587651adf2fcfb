// Pid namespaces, as the kernel reports them under /proc: which namespace a
// process lives in, and the pid it has there. A process in a container (its
// own pid namespace) calls itself by one pid; SO_PEERCRED and
// SCM_CREDENTIALS show it to a receiver outside by another (or as 0 when the
// receiver cannot see it). These let both sides tie the two together.
#ifndef SHMPORT_COMMON_PID_NAMESPACE_H_
#define SHMPORT_COMMON_PID_NAMESPACE_H_

#include <sys/types.h>

#include <cstdint>

#include "absl/status/statusor.h"

namespace shmport {

// The inode of the pid namespace of process `pid` (as this process's
// /proc numbers it), or of this process for pid 0: what `ls -i` shows for
// /proc/PID/ns/pid, unique among live namespaces of the host. Errors: the
// process does not exist (INVALID_ARGUMENT) or /proc does not tell
// (UNAVAILABLE).
absl::StatusOr<uint64_t> PidNamespaceOf(pid_t pid);

// The pid process `pid` has in its own, innermost pid namespace (what its
// getpid() returns): the last "NSpid:" entry of /proc/PID/status. Equals
// `pid` for a process in this process's namespace. Errors as above.
absl::StatusOr<pid_t> InnermostPid(pid_t pid);

}  // namespace shmport

#endif  // SHMPORT_COMMON_PID_NAMESPACE_H_
