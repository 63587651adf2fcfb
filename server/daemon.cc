#include "server/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <initializer_list>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/paths/daemon_identity.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "server/secret.h"
#include "shmport/unique_fd.h"

namespace shmport::server {
namespace {

constexpr gid_t kNoGroup = static_cast<gid_t>(-1);

// The gid of `socket_group`, or kNoGroup when it is empty.
absl::StatusOr<gid_t> SocketGroupId(const std::string& socket_group) {
  if (socket_group.empty()) return kNoGroup;
  struct group* g = ::getgrnam(socket_group.c_str());
  if (g == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "socket_group '", socket_group, "' is not a group on this host"));
  }
  return g->gr_gid;
}

// What to do about a runtime directory or socket the daemon refuses.
constexpr absl::string_view kRemedy =
    "remove it (its owner or root can), or give shmportd a directory only "
    "its user can write: set XDG_RUNTIME_DIR, or pass "
    "--listen=unix:DIR/control.sock (and --runtime_dir=DIR)";

// Creates the runtime directory if missing (0700, or 0750 and `gid` for a
// socket_group), and refuses one that is not this daemon's own: another
// user's directory (they could be posing as this daemon, or take its
// sockets over), a group- or world-writable one, or a symlink. Checked
// through an fd opened with O_NOFOLLOW, so what is checked is what is used.
absl::Status PrepareDirectory(const std::string& dir,
                              const std::string& socket_group, gid_t gid) {
  const mode_t mode = socket_group.empty() ? 0700 : 0750;
  const bool created = ::mkdir(dir.c_str(), mode) == 0;
  if (!created && errno != EEXIST) {
    return ErrnoToStatus(errno, absl::StrCat("mkdir ", dir));
  }
  UniqueFd fd(
      ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  struct stat st;
  if (!fd) {
    const int error = errno;
    // A symlink (ELOOP) or not a directory: say which, and whose.
    if ((error == ELOOP || error == ENOTDIR) &&
        ::lstat(dir.c_str(), &st) == 0) {
      return CheckRuntimeDirectory(st, dir, DaemonSelf(), kRemedy);
    }
    return ErrnoToStatus(error, absl::StrCat("open ", dir));
  }
  if (created) {
    // mkdir applies the umask; set exactly what we mean.
    if (::fchmod(fd.get(), mode) != 0) {
      return ErrnoToStatus(errno, absl::StrCat("chmod ", dir));
    }
    if (gid != kNoGroup &&
        ::fchown(fd.get(), static_cast<uid_t>(-1), gid) != 0) {
      return ErrnoToStatus(
          errno, absl::StrCat("chown ", dir, " to group ", socket_group));
    }
    Log(LogLevel::kInfo, "runtime_dir_created", {{"path", dir}});
  }
  if (::fstat(fd.get(), &st) != 0) {
    return ErrnoToStatus(errno, absl::StrCat("stat ", dir));
  }
  return CheckRuntimeDirectory(st, dir, DaemonSelf(), kRemedy);
}

// A socket file at `path`: another user's is refused (FAILED_PRECONDITION;
// it may be an impersonator's, and probing it would only say "serving"); if
// a process accepts connections on ours, another daemon is alive
// (FAILED_PRECONDITION); if nobody does, the file is stale and is removed.
absl::Status ClaimSocketPath(const std::string& path, int type,
                             absl::string_view what) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return ErrnoToStatus(errno, absl::StrCat("stat ", path));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(
        what, " path ", path, " exists and is not a socket; remove it"));
  }
  if (absl::Status s = CheckSocketFile(path, DaemonSelf(), kRemedy); !s.ok()) {
    return s;
  }
  UniqueFd probe(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
  if (!probe) return ErrnoToStatus(errno, "socket(AF_UNIX)");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(),
              std::min(path.size(), sizeof(addr.sun_path) - 1));
  if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr),
                sizeof(addr)) == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("another shmportd is serving ", what, " ", path,
                     "; stop it or choose another address with --listen"));
  }
  if (errno != ECONNREFUSED && errno != ENOENT) {
    return ErrnoToStatus(errno, absl::StrCat("probe ", what, " ", path));
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoToStatus(errno, absl::StrCat("remove stale socket ", path));
  }
  Log(LogLevel::kInfo, "stale_socket_removed", {{"path", path}});
  return absl::OkStatus();
}

// Writes the token to a fresh 0600 file and renames it into place, so a
// reader never sees a partial token or a looser mode.
absl::Status WriteAdminToken(const std::string& path,
                             const std::string& token) {
  const std::string tmp = absl::StrCat(path, ".tmp");
  ::unlink(tmp.c_str());
  UniqueFd fd(::open(
      tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return ErrnoToStatus(errno, absl::StrCat("create ", tmp));
  const std::string line = absl::StrCat(token, "\n");
  if (::fchmod(fd.get(), 0600) != 0 ||
      ::write(fd.get(), line.data(), line.size()) !=
          static_cast<ssize_t>(line.size())) {
    const int error = errno;
    ::unlink(tmp.c_str());
    return ErrnoToStatus(error, absl::StrCat("write ", tmp));
  }
  fd.Reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(tmp.c_str());
    return ErrnoToStatus(error, absl::StrCat("rename ", tmp, " to ", path));
  }
  return absl::OkStatus();
}

// Sockets are 0600, or 0660 and owned by `gid` with a socket_group:
// connect(2) needs write permission on the socket file, so the group must
// own it, not only the directory.
absl::Status RestrictSockets(std::initializer_list<std::string> paths,
                             const std::string& socket_group, gid_t gid) {
  const mode_t mode = gid == kNoGroup ? 0600 : 0660;
  for (const std::string& path : paths) {
    if (path.empty() || path[0] == '@') continue;  // abstract: no file
    if (gid != kNoGroup &&
        ::chown(path.c_str(), static_cast<uid_t>(-1), gid) != 0) {
      return ErrnoToStatus(
          errno, absl::StrCat("chown socket ", path, " to group '",
                              socket_group, "' (gid ", gid,
                              "); the daemon's user must be root or a "
                              "member of that group"));
    }
    if (::chmod(path.c_str(), mode) != 0) {
      return ErrnoToStatus(errno, absl::StrCat("chmod socket ", path));
    }
  }
  return absl::OkStatus();
}

BrokerLimits BrokerLimitsFrom(const config::v1::ConnectionLimits& c) {
  return {.pending_timeout = absl::Milliseconds(c.broker_pending_timeout_ms()),
          .max_pending_per_uid = c.max_pending_broker_connections_per_uid(),
          .max_pending = c.max_pending_broker_connections()};
}

// The control socket as Acceptor::Listen takes it: its path, or "@name".
std::string ControlSocketAddress(const RuntimePaths& p) {
  if (!p.control_socket_path.empty()) return p.control_socket_path;
  absl::string_view name = p.control_address;
  absl::ConsumePrefix(&name, "unix-abstract:");
  return absl::StrCat("@", name);
}

// Makes the runtime directory and claims its socket paths (a stale socket
// of a dead daemon is removed; a live one's is an error).
absl::Status ClaimRuntimeDirectory(const RuntimePaths& p,
                                   const std::string& socket_group, gid_t gid) {
  if (absl::Status s = PrepareDirectory(p.directory, socket_group, gid);
      !s.ok()) {
    return s;
  }
  if (!p.control_socket_path.empty()) {
    if (absl::Status s = ClaimSocketPath(p.control_socket_path, SOCK_STREAM,
                                         "control socket");
        !s.ok()) {
      return s;
    }
  }
  if (p.broker_address[0] != '@') {
    return ClaimSocketPath(p.broker_address, SOCK_SEQPACKET, "broker socket");
  }
  return absl::OkStatus();
}

// The daemon accepts control connections itself, to cap them (gRPC 1.51
// cannot); the server gets each admitted connection's fd. UNAVAILABLE
// naming `address` when it cannot listen.
absl::StatusOr<std::unique_ptr<ControlListener>> ListenForControl(
    const RuntimePaths& p, const config::v1::ConnectionLimits& limits,
    const std::string& address) {
  absl::StatusOr<std::unique_ptr<ControlListener>> control =
      ControlListener::Listen(
          ControlSocketAddress(p),
          {.max_connections = limits.max_control_connections(),
           .max_per_uid = limits.max_control_connections_per_uid()});
  if (!control.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", address, ": ", control.status().message(),
        " (in use by another process, or the directory is not "
        "writable)"));
  }
  return control;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Daemon>> Daemon::Start(
    const DaemonOptions& options) {
  std::unique_ptr<Daemon> d(new Daemon());
  absl::StatusOr<DaemonConfig> config = LoadDaemonConfig(options.config_path);
  if (!config.ok()) return config.status();
  d->config_ = std::move(*config);

  const std::string address = options.listen_address.empty()
                                  ? DefaultControlAddress()
                                  : options.listen_address;
  absl::StatusOr<RuntimePaths> paths =
      RuntimePathsFor(address, options.runtime_dir);
  if (!paths.ok()) return paths.status();
  d->paths_ = std::move(*paths);
  const RuntimePaths& p = d->paths_;

  const std::string& socket_group = d->config_.socket_group();
  absl::StatusOr<gid_t> gid = SocketGroupId(socket_group);
  if (!gid.ok()) return gid.status();
  if (absl::Status s = ClaimRuntimeDirectory(p, socket_group, *gid); !s.ok()) {
    return s;
  }

  absl::StatusOr<std::string> admin_token = NewSecret();
  if (!admin_token.ok()) return admin_token.status();

  d->switchboard_ = std::make_unique<Switchboard>(d->config_, ::getuid());
  absl::StatusOr<std::unique_ptr<Broker>> broker =
      Broker::Listen(p.broker_address, d->switchboard_.get(),
                     BrokerLimitsFrom(d->config_.connections()));
  if (!broker.ok()) return broker.status();
  d->broker_ = std::move(*broker);
  d->switchboard_->SetBroker(d->broker_.get());
  // From here on the files are ours: remove them on any failure below.
  d->owns_files_ = true;

  if (absl::Status s = WriteAdminToken(p.admin_token_path, *admin_token);
      !s.ok()) {
    return s;
  }

  d->service_ = std::make_unique<ControlService>(
      d->switchboard_.get(),
      ServiceIdentity{.listen_address = address,
                      .started_at = absl::Now(),
                      .admin_token = *admin_token,
                      .watcher_queue_limit = d->config_.watcher_queue_limit(),
                      .watcher_queue_bytes = d->config_.watcher_queue_bytes()});
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  absl::StatusOr<std::unique_ptr<ControlListener>> control =
      ListenForControl(p, d->config_.connections(), address);
  if (!control.ok()) return control.status();
  d->control_listener_ = std::move(*control);
  grpc::ServerBuilder builder;
  builder.RegisterService(d->service_.get());
  d->server_ = builder.BuildAndStart();
  if (d->server_ == nullptr) {
    return absl::InternalError("the gRPC server did not start");
  }
  if (absl::Status s = RestrictSockets(
          {p.control_socket_path, p.broker_address}, socket_group, *gid);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = d->broker_->Start(); !s.ok()) return s;
  if (absl::Status s = d->control_listener_->Start(d->server_.get()); !s.ok()) {
    return s;
  }
  Log(LogLevel::kInfo, "daemon_started",
      {{"address", address},
       {"broker", p.broker_address},
       {"admin_token", p.admin_token_path},
       {"pid", ::getpid()},
       {"config", options.config_path.empty() ? "built-in defaults"
                                              : options.config_path}});
  return d;
}

Daemon::~Daemon() { Shutdown(absl::Seconds(1)); }

void Daemon::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  Log(LogLevel::kInfo, "daemon_stopping", {});
  if (switchboard_ != nullptr) switchboard_->Shutdown();
  if (server_ != nullptr) {
    if (auto* health = server_->GetHealthCheckService()) {
      health->SetServingStatus(false);
    }
    // Watchers were just told to finish; give calls in flight the grace
    // period, then cut whatever is left (idle connections included).
    const absl::Time deadline = absl::Now() + grace;
    if (!service_->WaitIdle(deadline)) {
      Log(LogLevel::kWarning, "shutdown_calls_cut", {});
    }
    // No new connections from here on.
    if (control_listener_ != nullptr) control_listener_->Stop();
    // A finished call's status may still sit in the transport's write
    // queue: leave it a moment to reach the client before cutting.
    server_->Shutdown(absl::ToChronoTime(
        std::min(deadline, absl::Now() + absl::Milliseconds(200))));
    server_->Wait();
  }
  if (broker_ != nullptr) broker_->Stop("daemon shutting down");
  if (owns_files_) {
    for (const std::string& path :
         {paths_.control_socket_path, paths_.broker_address,
          paths_.admin_token_path}) {
      if (!path.empty() && path[0] != '@') ::unlink(path.c_str());
    }
  }
  Log(LogLevel::kInfo, "daemon_stopped", {});
}

}  // namespace shmport::server
