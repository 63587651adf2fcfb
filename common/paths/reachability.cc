#include "common/paths/reachability.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/paths/runtime_paths.h"

namespace shmport {
namespace {

constexpr char kHowToStart[] =
    "Start it with `make run` or `bazel run //server:shmportd`, or pass "
    "--address / set SHMPORT_ADDRESS";

// The system's words at the end of a transport message ("...: No such file
// or directory"): the part a person needs.
absl::string_view SystemReason(absl::string_view message) {
  if (const size_t colon = message.rfind(": ");
      colon != absl::string_view::npos) {
    message.remove_prefix(colon + 2);
  }
  return message;
}

std::string SocketPathOf(absl::string_view address) {
  absl::StatusOr<RuntimePaths> paths = RuntimePathsFor(address, "/");
  return paths.ok() ? paths->control_socket_path : std::string();
}

bool IsSocket(const std::string& path) {
  struct stat st {};
  return !path.empty() && ::stat(path.c_str(), &st) == 0 &&
         S_ISSOCK(st.st_mode);
}

// When the default search ended at `address`: what else it looked at,
// e.g. "; also looked for unix:/run/shmport/control.sock (not there)".
std::string SearchNote(absl::string_view address,
                       absl::string_view system_socket) {
  const std::vector<std::string> order =
      DefaultControlSearchOrder(system_socket);
  if (order.size() < 2 || order.front() != address) return "";
  std::vector<std::string> others;
  for (size_t i = 1; i < order.size(); ++i) {
    absl::StrAppend(&others.emplace_back(), order[i],
                    IsSocket(SocketPathOf(order[i]))
                        ? " (there too: remove the per-user socket to use it)"
                        : " (not there)");
  }
  return absl::StrCat("; also looked for ", absl::StrJoin(others, ", "));
}

// The socket, or the first directory above it that this process can see,
// and who owns it.
absl::Status PermissionDenied(absl::string_view address,
                              const std::string& path) {
  std::string what = path;
  struct stat st {};
  while (::stat(what.c_str(), &st) != 0) {
    const size_t slash = what.rfind('/');
    if (slash == std::string::npos || slash == 0) break;
    what.resize(slash);
  }
  return absl::UnavailableError(absl::StrFormat(
      "cannot reach shmportd at %s: permission denied. shmportd runs, but "
      "%s belongs to uid %d, group %d, mode %04o, and this process runs as "
      "uid %d: ask its operator to set socket_group in the daemon's config "
      "to a group of yours, or run as uid %d",
      address, what, st.st_uid, st.st_gid, st.st_mode & 07777, ::geteuid(),
      st.st_uid));
}

}  // namespace

std::vector<std::string> DefaultControlSearchOrder(
    absl::string_view system_socket) {
  const char* env = ::getenv("SHMPORT_ADDRESS");
  if (env != nullptr && env[0] != '\0') return {env};
  return {DefaultListenAddress(), absl::StrCat("unix:", system_socket)};
}

std::string DefaultControlAddress(absl::string_view system_socket) {
  const std::vector<std::string> order =
      DefaultControlSearchOrder(system_socket);
  for (const std::string& address : order) {
    if (IsSocket(SocketPathOf(address))) return address;
  }
  return order.front();
}

absl::Status ValidateControlAddress(absl::string_view address) {
  if (absl::StartsWith(address, "/")) {
    return absl::InvalidArgumentError(
        absl::StrCat("address \"", address,
                     "\" is a path, not a gRPC address: write unix:", address));
  }
  return RuntimePathsFor(address, "/").status();
}

bool IsDaemonMessage(absl::string_view message) {
  return absl::StartsWith(message, "the daemon") ||
         absl::StartsWith(message, "could not hand the port");
}

absl::Status ExplainUnreachable(absl::string_view address,
                                absl::string_view transport_reason,
                                absl::string_view system_socket) {
  const absl::string_view reason = SystemReason(transport_reason);
  const std::string path = SocketPathOf(address);
  struct stat st {};
  const bool found = !path.empty() && ::stat(path.c_str(), &st) == 0;
  const int stat_error = found ? 0 : errno;
  if (!path.empty() && (absl::StrContains(reason, "Permission denied") ||
                        stat_error == EACCES)) {
    return PermissionDenied(address, path);
  }
  if (found && S_ISSOCK(st.st_mode) &&
      absl::StrContains(reason, "Connection refused")) {
    return absl::UnavailableError(
        absl::StrCat("cannot reach shmportd: is shmportd running? tried ",
                     address, " (nothing listens on ", path,
                     ": a stale socket, left by a daemon that stopped)",
                     SearchNote(address, system_socket), ". ", kHowToStart));
  }
  return absl::UnavailableError(absl::StrCat(
      "cannot reach shmportd: is shmportd running? tried ", address, " (",
      reason, ")", SearchNote(address, system_socket), ". ", kHowToStart));
}

}  // namespace shmport
