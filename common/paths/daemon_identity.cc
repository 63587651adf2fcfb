#include "common/paths/daemon_identity.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/paths/runtime_paths.h"

namespace shmport {
namespace {

constexpr absl::string_view kAbstractPrefix = "unix-abstract:";

std::string Describe(const DaemonOwner& owner) {
  if (owner.or_root && owner.uid != 0) {
    return absl::StrCat("uid ", owner.uid, " or root");
  }
  return absl::StrCat("uid ", owner.uid);
}

// FAILED_PRECONDITION: `message`, then what to do about it.
absl::Status Refuse(std::string message, absl::string_view remedy) {
  if (!remedy.empty()) absl::StrAppend(&message, "; ", remedy);
  return absl::FailedPreconditionError(message);
}

absl::Status NotOwned(absl::string_view what, absl::string_view path, uid_t uid,
                      const DaemonOwner& owner, absl::string_view remedy) {
  return Refuse(absl::StrCat(what, " ", path, " is owned by uid ", uid,
                             ", not by ", Describe(owner),
                             ": another user may be posing as shmportd there"),
                remedy);
}

// The process listening at abstract `name` (anyone may bind any name) runs
// as a uid `owner` accepts: asked through a probe connection, closed at once.
absl::Status CheckAbstractListener(absl::string_view name,
                                   const DaemonOwner& owner) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (name.empty() || name.size() + 1 > sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("abstract socket name \"", name, "\" must be 1..",
                     sizeof(addr.sun_path) - 1, " bytes"));
  }
  std::memcpy(addr.sun_path + 1, name.data(), name.size());
  const socklen_t length =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::ResourceExhaustedError(
        absl::StrCat("socket(AF_UNIX): ", std::strerror(errno)));
  }
  int r;
  while ((r = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr),
                        length)) != 0 &&
         errno == EINTR) {
  }
  absl::Status status = absl::OkStatus();
  // Nobody listening: no daemon to trust or distrust; connecting says so.
  if (r == 0) {
    status = CheckPeer(fd, owner, absl::StrCat("the control socket @", name));
  }
  ::close(fd);
  return status;
}

}  // namespace

absl::StatusOr<DaemonOwner> ClientTrust(uid_t expected_uid) {
  DaemonOwner owner{.uid = expected_uid, .or_root = true};
  if (expected_uid != kDefaultDaemonUid) return owner;
  owner.uid = ::geteuid();
  const char* env = ::getenv("SHMPORT_DAEMON_UID");
  if (env == nullptr || env[0] == '\0') return owner;
  uint32_t uid = 0;
  if (!absl::SimpleAtoi(env, &uid) || uid == kDefaultDaemonUid) {
    return absl::InvalidArgumentError(
        absl::StrCat("$SHMPORT_DAEMON_UID is \"", env,
                     "\"; it must be the numeric uid the daemon runs as"));
  }
  owner.uid = uid;
  return owner;
}

DaemonOwner DaemonSelf() {
  return DaemonOwner{.uid = ::geteuid(), .or_root = false};
}

absl::Status CheckRuntimeDirectory(const struct stat& st,
                                   absl::string_view path,
                                   const DaemonOwner& owner,
                                   absl::string_view remedy) {
  if (S_ISLNK(st.st_mode)) {
    return Refuse(
        absl::StrCat("runtime directory ", path,
                     " is a symbolic link (to whatever its owner, uid ",
                     st.st_uid, ", chooses)"),
        remedy);
  }
  if (!S_ISDIR(st.st_mode)) {
    return Refuse(
        absl::StrCat("runtime directory ", path, " is not a directory"),
        remedy);
  }
  if (!owner.Accepts(st.st_uid)) {
    return NotOwned("runtime directory", path, st.st_uid, owner, remedy);
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return Refuse(
        absl::StrFormat("runtime directory %s has mode %04o: others may "
                        "replace the daemon's sockets in it (it must not be "
                        "group- or world-writable)",
                        path, st.st_mode & 07777),
        remedy);
  }
  return absl::OkStatus();
}

absl::Status CheckSocketFile(const std::string& path, const DaemonOwner& owner,
                             absl::string_view remedy) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    // No socket, or a directory this process may not search (then it
    // cannot connect either): nothing to trust; connecting says why.
    if (errno == ENOENT || errno == EACCES) return absl::OkStatus();
    return Refuse(
        absl::StrCat("cannot stat socket ", path, ": ", std::strerror(errno)),
        remedy);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return Refuse(
        absl::StrCat(path, " is not a socket (owner uid ", st.st_uid, ")"),
        remedy);
  }
  if (!owner.Accepts(st.st_uid)) {
    return NotOwned("socket", path, st.st_uid, owner, remedy);
  }
  return absl::OkStatus();
}

absl::Status CheckPeer(int fd, const DaemonOwner& owner,
                       absl::string_view what) {
  struct ucred cred {};
  socklen_t length = sizeof(cred);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) {
    return absl::InternalError(
        absl::StrCat("SO_PEERCRED on ", what, ": ", std::strerror(errno)));
  }
  if (!owner.Accepts(cred.uid)) {
    return absl::PermissionDeniedError(absl::StrCat(
        what, " is served by pid ", cred.pid, " running as uid ", cred.uid,
        ", not by ", Describe(owner),
        ": another user may be posing as shmportd; refusing to talk to it "
        "(if that uid runs your daemon, say so with "
        "SessionOptions::expected_daemon_uid or $SHMPORT_DAEMON_UID)"));
  }
  return absl::OkStatus();
}

absl::Status CheckDaemonAt(absl::string_view control_address,
                           uid_t expected_uid) {
  absl::StatusOr<DaemonOwner> owner = ClientTrust(expected_uid);
  if (!owner.ok()) return owner.status();
  if (absl::StartsWith(control_address, kAbstractPrefix)) {
    return CheckAbstractListener(control_address.substr(kAbstractPrefix.size()),
                                 *owner);
  }
  absl::StatusOr<RuntimePaths> paths = RuntimePathsFor(control_address);
  if (!paths.ok()) return paths.status();
  const std::string remedy = absl::StrCat(
      "refusing the daemon at ", control_address,
      " (if that uid runs your daemon, say so with "
      "SessionOptions::expected_daemon_uid or $SHMPORT_DAEMON_UID; else "
      "remove the directory, or use your own: XDG_RUNTIME_DIR, "
      "SHMPORT_ADDRESS)");
  struct stat st;
  if (::lstat(paths->directory.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();  // no daemon there
    return absl::UnavailableError(absl::StrCat("cannot stat ", paths->directory,
                                               ": ", std::strerror(errno)));
  }
  absl::Status s = CheckRuntimeDirectory(st, paths->directory, *owner, remedy);
  if (s.ok()) s = CheckSocketFile(paths->control_socket_path, *owner, remedy);
  if (!s.ok()) return absl::PermissionDeniedError(s.message());
  return absl::OkStatus();
}

}  // namespace shmport
