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
#include <vector>

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
#include "server/metrics_address.h"
#include "server/metrics_snapshot.h"
#include "server/secret.h"
#include "server/systemd_sockets.h"
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

// Claims the control and broker socket paths (ClaimSocketPath), except
// inherited ones: those are live by design, and probing them would find
// "another daemon" (us).
absl::Status ClaimSocketPaths(const RuntimePaths& p, bool inherited_control,
                              bool inherited_broker) {
  if (!p.control_socket_path.empty() && !inherited_control) {
    if (absl::Status s = ClaimSocketPath(p.control_socket_path, SOCK_STREAM,
                                         "control socket");
        !s.ok()) {
      return s;
    }
  }
  if (p.broker_address[0] != '@' && !inherited_broker) {
    return ClaimSocketPath(p.broker_address, SOCK_SEQPACKET, "broker socket");
  }
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

// The metrics endpoint's bind address: the flag, else the config; empty
// when neither asks for one.
absl::StatusOr<std::string> MetricsBindAddress(const DaemonConfig& config,
                                               const std::string& flag,
                                               bool flag_allow_remote) {
  const std::string& listen = flag.empty() ? config.metrics().listen() : flag;
  if (listen.empty()) return std::string();
  return ValidateMetricsListen(
      listen, flag_allow_remote || config.metrics().allow_remote());
}

}  // namespace

absl::StatusOr<std::unique_ptr<Daemon>> Daemon::Start(
    const DaemonOptions& options) {
  std::unique_ptr<Daemon> d(new Daemon());
  absl::StatusOr<DaemonConfig> config = LoadDaemonConfig(options.config_path);
  if (!config.ok()) return config.status();
  d->config_ = std::move(*config);

  absl::StatusOr<std::string> metrics_bind = MetricsBindAddress(
      d->config_, options.metrics_listen, options.metrics_allow_remote);
  if (!metrics_bind.ok()) return metrics_bind.status();

  ActivatedSockets activated;
  absl::StatusOr<std::string> found = d->FindPaths(options, &activated);
  if (!found.ok()) return found.status();
  const std::string address = std::move(*found);
  const RuntimePaths& p = d->paths_;

  const std::string& socket_group = d->config_.socket_group();
  absl::StatusOr<gid_t> gid = SocketGroupId(socket_group);
  if (!gid.ok()) return gid.status();
  if (absl::Status s = PrepareDirectory(p.directory, socket_group, *gid);
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          ClaimSocketPaths(p, d->inherited_control_, d->inherited_broker_);
      !s.ok()) {
    return s;
  }

  absl::StatusOr<std::string> admin_token = NewSecret();
  if (!admin_token.ok()) return admin_token.status();

  d->switchboard_ = std::make_unique<Switchboard>(d->config_, ::getuid());
  absl::StatusOr<std::unique_ptr<Broker>> broker = Broker::Listen(
      p.broker_address, d->switchboard_.get(),
      BrokerLimitsFrom(d->config_.connections()), std::move(activated.broker));
  if (!broker.ok()) return broker.status();
  d->broker_ = std::move(*broker);
  d->broker_->CountRefusalsIn(&d->limit_refusals_);
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
  if (absl::Status s = d->StartGrpc(address, std::move(activated.control),
                                    /*count_refusals=*/!metrics_bind->empty());
      !s.ok()) {
    return s;
  }
  // A service manager's sockets keep the modes its unit gave them.
  if (absl::Status s =
          RestrictSockets({d->inherited_control_ ? "" : p.control_socket_path,
                           d->inherited_broker_ ? "" : p.broker_address},
                          socket_group, *gid);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = d->broker_->Start(); !s.ok()) return s;
  if (absl::Status s = d->control_listener_->Start(d->server_.get()); !s.ok()) {
    return s;
  }
  if (absl::Status s = d->StartMetrics(*metrics_bind); !s.ok()) return s;
  d->LogStarted(options, address);
  return d;
}

void Daemon::LogStarted(const DaemonOptions& options,
                        const std::string& address) const {
  Log(LogLevel::kInfo, "daemon_started",
      {{"address", address},
       {"broker", paths_.broker_address},
       {"admin_token", paths_.admin_token_path},
       {"pid", ::getpid()},
       {"socket_activated", inherited_control_ || inherited_broker_},
       {"config", options.config_path.empty() ? "built-in defaults"
                                              : options.config_path}});
}

absl::StatusOr<std::string> Daemon::FindPaths(const DaemonOptions& options,
                                              ActivatedSockets* activated) {
  if (options.socket_activation) {
    absl::StatusOr<ActivatedSockets> taken = TakeActivatedSockets();
    if (!taken.ok()) return taken.status();
    *activated = std::move(*taken);
  }
  inherited_control_ = static_cast<bool>(activated->control);
  inherited_broker_ = static_cast<bool>(activated->broker);
  const std::string address =
      !options.listen_address.empty() ? options.listen_address
      : inherited_control_ ? absl::StrCat("unix:", activated->control_path)
                           : DefaultListenAddress();
  absl::StatusOr<RuntimePaths> paths =
      RuntimePathsFor(address, options.runtime_dir);
  if (!paths.ok()) return paths.status();
  paths_ = std::move(*paths);
  if (absl::Status s = MatchActivatedSockets(*activated, paths_); !s.ok()) {
    return s;
  }
  return address;
}

absl::Status Daemon::StartGrpc(const std::string& address,
                               UniqueFd inherited_control,
                               bool count_refusals) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  // The daemon accepts control connections itself, to cap them (gRPC 1.51
  // cannot); the server gets each admitted connection's fd. An inherited
  // control socket is simply the socket it accepts on.
  absl::StatusOr<std::unique_ptr<ControlListener>> control =
      ControlListener::Listen(
          ControlSocketAddress(paths_),
          {.max_connections = config_.connections().max_control_connections(),
           .max_per_uid =
               config_.connections().max_control_connections_per_uid()},
          std::move(inherited_control));
  if (!control.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", address, ": ", control.status().message(),
        " (in use by another process, or the directory is not "
        "writable)"));
  }
  control_listener_ = std::move(*control);
  control_listener_->CountRefusalsIn(&limit_refusals_);
  grpc::ServerBuilder builder;
  builder.RegisterService(service_.get());
  if (count_refusals) {
    std::vector<
        std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
        interceptors;
    interceptors.push_back(refusals_.NewInterceptorFactory());
    builder.experimental().SetInterceptorCreators(std::move(interceptors));
  }
  server_ = builder.BuildAndStart();
  if (server_ == nullptr) {
    return absl::InternalError("the gRPC server did not start");
  }
  return absl::OkStatus();
}

absl::Status Daemon::StartMetrics(const std::string& bind_address) {
  if (bind_address.empty()) return absl::OkStatus();
  absl::StatusOr<std::unique_ptr<MetricsEndpoint>> metrics =
      MetricsEndpoint::Start(
          bind_address, config_.metrics().max_port_series(), [this] {
            return TakeMetricsSnapshot(
                {.switchboard = switchboard_.get(),
                 .rpc_refusals = &refusals_,
                 .limit_refusals = &limit_refusals_,
                 .control_listener = control_listener_.get(),
                 .broker = broker_.get(),
                 .max_subscription_series =
                     config_.metrics().max_subscription_series()});
          });
  if (!metrics.ok()) return metrics.status();
  metrics_ = std::move(*metrics);
  Log(LogLevel::kInfo, "metrics_serving",
      {{"address", metrics_->address()}, {"path", "/metrics"}});
  return absl::OkStatus();
}

std::string Daemon::metrics_address() const {
  return metrics_ == nullptr ? "" : metrics_->address();
}

Daemon::~Daemon() { Shutdown(absl::Seconds(1)); }

void Daemon::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  Log(LogLevel::kInfo, "daemon_stopping", {});
  metrics_.reset();
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
    // A service manager's sockets stay: it listens on them for our restart.
    for (const std::string& path :
         {inherited_control_ ? "" : paths_.control_socket_path,
          inherited_broker_ ? "" : paths_.broker_address,
          paths_.admin_token_path}) {
      if (!path.empty() && path[0] != '@') ::unlink(path.c_str());
    }
  }
  Log(LogLevel::kInfo, "daemon_stopped", {});
}

}  // namespace shmport::server
