// Socket activation: the listening sockets a service manager (systemd, or
// systemd-socket-activate) passes shmportd, named with
// FileDescriptorName=control (SOCK_STREAM, the gRPC control socket) and
// FileDescriptorName=broker (SOCK_SEQPACKET, the broker socket).
#ifndef SHMPORT_SERVER_SYSTEMD_SOCKETS_H_
#define SHMPORT_SERVER_SYSTEMD_SOCKETS_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/paths/runtime_paths.h"
#include "shmport/unique_fd.h"

namespace shmport::server {

struct ActivatedSockets {
  UniqueFd control;  // invalid when not passed
  UniqueFd broker;
  std::string control_path;  // the socket's filesystem path
  std::string broker_path;
};

// Takes the sockets passed with $LISTEN_FDS (and unsets the variables, so
// children do not see them). None passed: both fds invalid. Errors
// (INVALID_ARGUMENT, naming the fd): a name other than control/broker, a
// name given twice, a socket that is not a listening unix socket of the
// right type, or not bound to a filesystem path.
absl::StatusOr<ActivatedSockets> TakeActivatedSockets();

// OK when each inherited socket sits where `paths` says the daemon's
// socket is; else FAILED_PRECONDITION naming both paths (the unit's
// ListenStream= / ListenSequentialPacket= and --listen disagree).
absl::Status MatchActivatedSockets(const ActivatedSockets& sockets,
                                   const RuntimePaths& paths);

}  // namespace shmport::server

#endif  // SHMPORT_SERVER_SYSTEMD_SOCKETS_H_
