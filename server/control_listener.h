// ControlListener: the daemon's gRPC control socket, accepted by the
// daemon itself so that it can cap how many control connections are open.
//
// gRPC 1.51 has no such cap (its resource quota bounds memory and threads,
// not connections): 5,000 idle HTTP/2 connections once cost 5,013 fds and
// 98 MiB. So the daemon listens, accepts, checks the caps (per connecting
// uid, SO_PEERCRED, and in all), and hands each admitted connection to the
// gRPC server (grpc::AddInsecureChannelFromFd). To learn when a connection
// ends it keeps a duplicate of the socket in its epoll set: gRPC shuts a
// connection down (shutdown(2)) before closing it, and a client's close
// shows too, both as EPOLLRDHUP/EPOLLHUP on the duplicate. Accepting backs
// off at the fd limit (Acceptor).
#ifndef SHMPORT_SERVER_CONTROL_LISTENER_H_
#define SHMPORT_SERVER_CONTROL_LISTENER_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/server.h"
#include "server/acceptor.h"
#include "server/limit_refusals.h"
#include "server/log_throttle.h"
#include "shmport/unique_fd.h"

namespace shmport::server {

struct ControlConnectionLimits {
  size_t max_connections = 8192;
  size_t max_per_uid = 4352;
};

// Thread-safety: Listen, Start and Stop are called from one thread (the
// daemon's); everything else happens on the listener's own thread.
class ControlListener {
 public:
  // Binds and listens on `address`: a filesystem path, or "@name" for the
  // abstract namespace. Errors as for Acceptor::Listen. With a valid
  // `inherited` (a listening SOCK_STREAM socket a service manager passed
  // in, already at `address`), accepts on that one instead of binding.
  static absl::StatusOr<std::unique_ptr<ControlListener>> Listen(
      absl::string_view address, const ControlConnectionLimits& limits,
      UniqueFd inherited = UniqueFd());

  // Stop().
  ~ControlListener();
  ControlListener(const ControlListener&) = delete;
  ControlListener& operator=(const ControlListener&) = delete;

  // Starts accepting on a thread of its own; admitted connections go to
  // `server`, which must be started and outlive Stop().
  absl::Status Start(grpc::Server* server);
  // Stops accepting and closes the listening socket and the duplicates.
  // Connections already handed over stay the server's. Idempotent.
  void Stop();

  // Counts each connection refused for a cap into `refusals` (which must
  // outlive the listener). Call before Start.
  void CountRefusalsIn(LimitRefusals* refusals) { limit_refusals_ = refusals; }
  // Control connections open now (any thread).
  size_t open_connections() const {
    return open_connections_.load(std::memory_order_relaxed);
  }

 private:
  // A connection handed to gRPC, watched through its duplicate.
  struct Watched {
    UniqueFd duplicate;
    uid_t uid;
  };

  ControlListener(Acceptor acceptor, UniqueFd epoll_fd, UniqueFd wake_fd,
                  const ControlConnectionLimits& limits);
  void Loop();
  void OnListenReadable();
  // OK, or why `uid` may not open one more connection.
  absl::Status Admit(uid_t uid) const;
  void Forget(uint64_t handle);

  const ControlConnectionLimits limits_;
  Acceptor acceptor_;
  const UniqueFd epoll_fd_;
  const UniqueFd wake_fd_;
  grpc::Server* server_ = nullptr;
  LimitRefusals* limit_refusals_ = nullptr;  // set before Start
  std::atomic<size_t> open_connections_{0};  // connections_.size()
  std::thread thread_;
  // Loop thread only:
  absl::flat_hash_map<uint64_t, Watched> connections_;
  absl::flat_hash_map<uid_t, size_t> per_uid_;
  uint64_t next_handle_ = 2;  // 0: the listening socket, 1: the wake fd
  LogThrottle refusal_log_;
};

}  // namespace shmport::server

#endif  // SHMPORT_SERVER_CONTROL_LISTENER_H_
