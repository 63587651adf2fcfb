#include "server/systemd_sockets.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>

#include <cstring>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"

namespace shmport::server {
namespace {

// The filesystem path `fd` is bound to, or INVALID_ARGUMENT.
absl::StatusOr<std::string> BoundPath(int fd, absl::string_view name) {
  sockaddr_un addr{};
  socklen_t length = sizeof(addr);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
    return ErrnoToStatus(
        errno, absl::StrCat("getsockname of the inherited ", name, " socket"));
  }
  const size_t path_length = length - offsetof(sockaddr_un, sun_path);
  if (addr.sun_family != AF_UNIX || path_length == 0 ||
      addr.sun_path[0] == '\0') {
    return absl::InvalidArgumentError(absl::StrCat(
        "the inherited ", name,
        " socket is not bound to a filesystem path (use ListenStream= / "
        "ListenSequentialPacket= with a path)"));
  }
  return std::string(addr.sun_path, strnlen(addr.sun_path, path_length));
}

// OK and the socket's path when `fd` is a listening unix socket of `type`
// bound to a filesystem path.
absl::StatusOr<std::string> CheckListening(int fd, const char* name, int type,
                                           const char* type_name) {
  if (::sd_is_socket_unix(fd, type, /*listening=*/1, nullptr, 0) <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("inherited fd ", fd, " named '", name,
                     "' is not a listening unix ", type_name, " socket"));
  }
  return BoundPath(fd, name);
}

}  // namespace

absl::StatusOr<ActivatedSockets> TakeActivatedSockets() {
  char** names = nullptr;
  const int n = ::sd_listen_fds_with_names(/*unset_environment=*/1, &names);
  if (n < 0) return ErrnoToStatus(-n, "sd_listen_fds_with_names");
  absl::Cleanup free_names = [names] {
    for (char** p = names; p != nullptr && *p != nullptr; ++p) ::free(*p);
    ::free(names);
  };
  ActivatedSockets sockets;
  // Own every passed fd first, so that each is closed on any error below.
  for (int i = 0; i < n; ++i) {
    const int fd = SD_LISTEN_FDS_START + i;
    const std::string name = names != nullptr ? names[i] : "";
    UniqueFd* slot = name == "control"  ? &sockets.control
                     : name == "broker" ? &sockets.broker
                                        : nullptr;
    if (slot == nullptr || *slot) {
      for (int j = i; j < n; ++j) ::close(SD_LISTEN_FDS_START + j);
      return absl::InvalidArgumentError(absl::StrCat(
          "inherited fd ", fd, " is named '", name,
          slot == nullptr ? "'; name the sockets control and broker "
                            "(FileDescriptorName=)"
                          : "' like an earlier one"));
    }
    *slot = UniqueFd(fd);
  }
  if (sockets.control) {
    absl::StatusOr<std::string> path =
        CheckListening(sockets.control.get(), "control", SOCK_STREAM, "stream");
    if (!path.ok()) return path.status();
    sockets.control_path = *path;
  }
  if (sockets.broker) {
    absl::StatusOr<std::string> path = CheckListening(
        sockets.broker.get(), "broker", SOCK_SEQPACKET, "sequential-packet");
    if (!path.ok()) return path.status();
    sockets.broker_path = *path;
  }
  return sockets;
}

absl::Status MatchActivatedSockets(const ActivatedSockets& sockets,
                                   const RuntimePaths& paths) {
  if (sockets.control && sockets.control_path != paths.control_socket_path) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the inherited control socket is at ", sockets.control_path,
        " but the daemon's control address is ", paths.control_address,
        "; make --listen and the unit's ListenStream= agree"));
  }
  if (sockets.broker && sockets.broker_path != paths.broker_address) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the inherited broker socket is at ", sockets.broker_path,
        " but the daemon's broker socket is ", paths.broker_address,
        " (broker.sock next to the control socket, or in --runtime_dir); "
        "make the unit's ListenSequentialPacket= agree"));
  }
  return absl::OkStatus();
}

}  // namespace shmport::server
