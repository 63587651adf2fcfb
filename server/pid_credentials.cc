#include "server/pid_credentials.h"

#include <cstdio>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/pid_namespace.h"

namespace shmport::server {

absl::StatusOr<Credentials> CredentialsOfPid(pid_t pid) {
  const std::string path = absl::StrCat("/proc/", pid, "/status");
  FILE* f = std::fopen(path.c_str(), "re");
  if (f == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("pid ", pid, " is not a running process"));
  }
  Credentials creds;
  creds.pid = pid;
  int found = 0;
  char line[256];
  unsigned real = 0, effective = 0;
  while (found < 2 && std::fgets(line, sizeof(line), f) != nullptr) {
    // "Uid:\treal\teffective\tsaved\tfs"
    if (std::sscanf(line, "Uid: %u %u", &real, &effective) == 2) {
      creds.uid = effective;
      ++found;
    } else if (std::sscanf(line, "Gid: %u %u", &real, &effective) == 2) {
      creds.gid = effective;
      ++found;
    }
  }
  std::fclose(f);
  if (found != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("pid ", pid, " exited while being looked up"));
  }
  return creds;
}

absl::StatusOr<KernelPid> MatchDeclaredPid(pid_t peer_pid, pid_t declared_pid,
                                           uint64_t declared_namespace,
                                           uint64_t daemon_namespace) {
  if (declared_namespace == 0 || declared_namespace == daemon_namespace) {
    if (peer_pid != declared_pid) {
      return absl::PermissionDeniedError(
          absl::StrCat("the broker link comes from pid ", peer_pid,
                       " but the registration declared pid ", declared_pid));
    }
    return KernelPid{peer_pid, daemon_namespace, peer_pid};
  }
  absl::StatusOr<uint64_t> pid_namespace = PidNamespaceOf(peer_pid);
  absl::StatusOr<pid_t> inner = InnermostPid(peer_pid);
  if (!pid_namespace.ok() || !inner.ok()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "cannot tell the pid namespace of pid ", peer_pid, ": ",
        (pid_namespace.ok() ? inner.status() : pid_namespace.status())
            .message()));
  }
  if (*pid_namespace != declared_namespace || *inner != declared_pid) {
    return absl::PermissionDeniedError(
        absl::StrCat("the broker link comes from pid ", peer_pid, " (pid ",
                     *inner, " in pid namespace ", *pid_namespace,
                     ") but the registration declared pid ", declared_pid,
                     " in pid namespace ", declared_namespace));
  }
  return KernelPid{peer_pid, *pid_namespace, *inner};
}

}  // namespace shmport::server
