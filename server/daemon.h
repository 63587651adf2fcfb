// Daemon: one running shmportd — its runtime directory, admin token,
// broker, Switchboard and gRPC server, started and stopped together.
#ifndef SHMPORT_SERVER_DAEMON_H_
#define SHMPORT_SERVER_DAEMON_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/paths/runtime_paths.h"
#include "grpcpp/server.h"
#include "server/broker.h"
#include "server/config.h"
#include "server/control_listener.h"
#include "server/control_service.h"
#include "server/metrics_endpoint.h"
#include "server/metrics_refusals.h"
#include "server/switchboard.h"
#include "server/systemd_sockets.h"

namespace shmport::server {

struct DaemonOptions {
  // gRPC address to serve; empty: an inherited control socket's, else
  // DefaultListenAddress().
  std::string listen_address;
  // Directory for the broker socket and admin.token; empty: the control
  // socket's directory (required for unix-abstract: addresses).
  std::string runtime_dir;
  // Text-format DaemonConfig; empty: built-in defaults.
  std::string config_path;
  // HOST:PORT for the Prometheus endpoint; non-empty overrides the
  // config's metrics.listen.
  std::string metrics_listen;
  // Allow a non-loopback metrics address (or the config's
  // metrics.allow_remote).
  bool metrics_allow_remote = false;
  // Serve on the sockets a service manager passed ($LISTEN_FDS, named
  // control and broker) instead of binding them. An inherited control
  // socket's path is the address when listen_address is empty.
  bool socket_activation = false;
};

// Thread-safety: Start and Shutdown are called from one thread (main).
class Daemon {
 public:
  // Loads the config, prepares the runtime directory (created 0700, or
  // 0750 for config.socket_group; an existing one must be this uid's, not
  // a symlink, and not group- or world-writable: else FAILED_PRECONDITION
  // naming its owner), refuses another uid's socket files and to start
  // when a live daemon answers on the control or broker socket
  // (FAILED_PRECONDITION), removes stale socket files otherwise, writes
  // admin.token (0600), and starts serving. Everything taken is released
  // on failure.
  static absl::StatusOr<std::unique_ptr<Daemon>> Start(
      const DaemonOptions& options);

  // Calls Shutdown(absl::Seconds(1)) if it was not called.
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Stops accepting, ends watchers' streams with OK, waits up to `grace`
  // for calls in flight, says Goodbye on and closes every broker link, and
  // removes the socket files and admin.token. Idempotent.
  void Shutdown(absl::Duration grace);

  const RuntimePaths& paths() const { return paths_; }
  // "127.0.0.1:9464" (the port bound); empty without a metrics endpoint.
  std::string metrics_address() const;

 private:
  Daemon() = default;
  // Takes the socket-activated sockets (with options.socket_activation)
  // and sets paths_ from the address it returns: --listen, else the
  // inherited control socket's, else DefaultListenAddress(). Errors: a bad
  // inherited socket or address, or inherited sockets elsewhere than
  // paths_ says.
  // The one line that says the daemon serves, and where.
  void LogStarted(const DaemonOptions& options,
                  const std::string& address) const;
  absl::StatusOr<std::string> FindPaths(const DaemonOptions& options,
                                        ActivatedSockets* activated);
  // The control listener (binding `address`, or accepting on
  // `inherited_control`) and the gRPC server it feeds.
  absl::Status StartGrpc(const std::string& address, UniqueFd inherited_control,
                         bool count_refusals);
  // Starts the Prometheus endpoint when `bind_address` is non-empty.
  absl::Status StartMetrics(const std::string& bind_address);

  RuntimePaths paths_;
  DaemonConfig config_;
  // Destruction order matters: the server (which calls the service, which
  // calls the switchboard) goes first, then the broker (which calls the
  // switchboard), then the switchboard.
  std::unique_ptr<Switchboard> switchboard_;
  std::unique_ptr<Broker> broker_;
  std::unique_ptr<ControlService> service_;
  LimitRefusals limit_refusals_;  // the listener, broker and refusals_ count
  RpcRefusals refusals_{&limit_refusals_};  // the server's interceptor counts
  std::unique_ptr<grpc::Server> server_;
  // Hands connections to server_: stopped (and destroyed) before it.
  std::unique_ptr<ControlListener> control_listener_;
  // Reads the switchboard and refusals_ at each scrape: goes first.
  std::unique_ptr<MetricsEndpoint> metrics_;
  bool shut_down_ = false;
  bool owns_files_ = false;  // remove the socket files and token at exit
  // Socket-activated: the service manager owns these files.
  bool inherited_control_ = false;
  bool inherited_broker_ = false;
};

}  // namespace shmport::server

#endif  // SHMPORT_SERVER_DAEMON_H_
