// Who may pose as shmportd. Anyone can create /tmp/shmport-$UID, or bind an
// abstract socket name, before the rightful daemon does; so the daemon
// refuses runtime files it does not own, and its clients refuse a daemon
// whose files or socket belong to another uid. Shared by the daemon, the
// client library and the CLI. Knows nothing of gRPC.
#ifndef SHMPORT_COMMON_PATHS_DAEMON_IDENTITY_H_
#define SHMPORT_COMMON_PATHS_DAEMON_IDENTITY_H_

#include <sys/stat.h>
#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "shmport/daemon_uid.h"

namespace shmport {

// The uids whose files and sockets are accepted as the daemon's.
struct DaemonOwner {
  uid_t uid = 0;
  // Clients accept root as well: root can pose as anyone anyway, and a
  // system-wide daemon runs as root.
  bool or_root = false;

  bool Accepts(uid_t owner) const {
    return owner == uid || (or_root && owner == 0);
  }
};

// What a client trusts: `expected_uid` (kDefaultDaemonUid: this process's
// euid, or $SHMPORT_DAEMON_UID when set), or root. INVALID_ARGUMENT when
// $SHMPORT_DAEMON_UID is not a uid.
absl::StatusOr<DaemonOwner> ClientTrust(uid_t expected_uid);

// What the daemon accepts as its own: its effective uid only.
DaemonOwner DaemonSelf();

// `st` (from lstat or fstat of `path`) is a directory, not a symlink, owned
// by `owner`, and nobody else may create or replace files in it (no group or
// world write). Else FAILED_PRECONDITION naming the path, its owner or mode,
// followed by `remedy`.
absl::Status CheckRuntimeDirectory(const struct stat& st,
                                   absl::string_view path,
                                   const DaemonOwner& owner,
                                   absl::string_view remedy);

// lstat(`path`): a socket owned by `owner`; OK when there is no such file
// or its directory may not be searched (connect(2) fails then anyway).
// FAILED_PRECONDITION otherwise, naming the path and its owner.
absl::Status CheckSocketFile(const std::string& path, const DaemonOwner& owner,
                             absl::string_view remedy);

// The process listening at the other end of the connected unix socket
// `fd` (SO_PEERCRED) runs as a uid `owner` accepts. PERMISSION_DENIED
// naming `what`, the peer's pid and uid otherwise.
absl::Status CheckPeer(int fd, const DaemonOwner& owner,
                       absl::string_view what);

// A client's check of the daemon at gRPC `control_address`, before it
// sends anything there. For "unix:PATH": the directory and the socket file
// are those of a trusted uid (a missing one is fine: there is no daemon,
// and connecting says so). For "unix-abstract:NAME": a probe connection's
// peer runs as a trusted uid. PERMISSION_DENIED naming the owner uid and
// what to do; INVALID_ARGUMENT for a bad $SHMPORT_DAEMON_UID or address.
absl::Status CheckDaemonAt(absl::string_view control_address,
                           uid_t expected_uid = kDefaultDaemonUid);

}  // namespace shmport

#endif  // SHMPORT_COMMON_PATHS_DAEMON_IDENTITY_H_
