#include "common/paths/runtime_paths.h"

#include <stdlib.h>
#include <unistd.h>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace shmport {
namespace {

constexpr absl::string_view kUnixPrefix = "unix:";
constexpr absl::string_view kAbstractPrefix = "unix-abstract:";

// The directory part of `path` ("." for a bare file name, "/" for "/x").
std::string DirectoryOf(absl::string_view path) {
  const size_t slash = path.rfind('/');
  if (slash == absl::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

absl::Status CheckSocketPath(absl::string_view what, absl::string_view path) {
  if (path.size() > kMaxUnixSocketPath) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " path \"", path, "\" is ", path.size(),
                     " bytes; a unix socket path holds at most ",
                     kMaxUnixSocketPath, " (use a shorter directory)"));
  }
  return absl::OkStatus();
}

std::string JoinPath(absl::string_view dir, absl::string_view name) {
  if (absl::EndsWith(dir, "/")) return absl::StrCat(dir, name);
  return absl::StrCat(dir, "/", name);
}

}  // namespace

std::string DefaultRuntimeDirectory() {
  const char* xdg = ::getenv("XDG_RUNTIME_DIR");
  if (xdg != nullptr && xdg[0] == '/') return JoinPath(xdg, "shmport");
  const char* tmp = ::getenv("SHMPORT_TMPDIR");
  const absl::string_view root = tmp != nullptr && tmp[0] == '/' ? tmp : "/tmp";
  return JoinPath(root, absl::StrCat("shmport-", ::getuid()));
}

std::string DefaultListenAddress() {
  const char* env = ::getenv("SHMPORT_ADDRESS");
  if (env != nullptr && env[0] != '\0') return env;
  return absl::StrCat(kUnixPrefix,
                      JoinPath(DefaultRuntimeDirectory(), "control.sock"));
}

absl::StatusOr<RuntimePaths> RuntimePathsFor(absl::string_view address,
                                             absl::string_view runtime_dir) {
  RuntimePaths paths;
  paths.control_address = std::string(address);
  if (absl::StartsWith(address, kAbstractPrefix)) {
    const absl::string_view name = address.substr(kAbstractPrefix.size());
    if (name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("address \"", address, "\" names no abstract socket"));
    }
    if (runtime_dir.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "address \"", address,
          "\" is abstract: give a runtime directory for admin.token"));
    }
    paths.directory = std::string(runtime_dir);
    paths.broker_address = absl::StrCat("@", name, ".broker");
    // The abstract namespace has the same 107-byte limit, minus the NUL
    // that stands for '@'.
    if (absl::Status s = CheckSocketPath("broker", paths.broker_address);
        !s.ok()) {
      return s;
    }
  } else if (absl::StartsWith(address, kUnixPrefix)) {
    absl::string_view path = address.substr(kUnixPrefix.size());
    // gRPC also accepts "unix:///abs/path" (an empty authority).
    if (absl::StartsWith(path, "//")) path.remove_prefix(2);
    if (path.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("address \"", address, "\" names no socket path"));
    }
    if (absl::Status s = CheckSocketPath("control socket", path); !s.ok()) {
      return s;
    }
    paths.control_socket_path = std::string(path);
    paths.directory =
        runtime_dir.empty() ? DirectoryOf(path) : std::string(runtime_dir);
    paths.broker_address = JoinPath(paths.directory, "broker.sock");
    if (absl::Status s = CheckSocketPath("broker", paths.broker_address);
        !s.ok()) {
      return s;
    }
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "address \"", address,
        "\" is not a unix socket; use unix:PATH or unix-abstract:NAME (TCP "
        "would need TLS, which shmport does not support)"));
  }
  paths.admin_token_path = JoinPath(paths.directory, "admin.token");
  return paths;
}

}  // namespace shmport
