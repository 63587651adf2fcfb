// InheritedListener: serves gRPC on a listening socket shmportd did not
// create (socket activation). gRPC 1.51 can only adopt connected fds
// (grpc::AddInsecureChannelFromFd), so this thread accepts each connection
// on the inherited socket and hands it to the server.
#ifndef SHMPORT_SERVER_INHERITED_LISTENER_H_
#define SHMPORT_SERVER_INHERITED_LISTENER_H_

#include <memory>
#include <thread>

#include "absl/status/statusor.h"
#include "grpcpp/server.h"
#include "shmport/unique_fd.h"

namespace shmport::server {

// Thread-safety: Start and Stop from one thread.
class InheritedListener {
 public:
  // Starts accepting on `listening` (a listening SOCK_STREAM socket) for
  // `server`, which must outlive Stop(). Errors: the eventfd or fcntl
  // failure.
  static absl::StatusOr<std::unique_ptr<InheritedListener>> Start(
      UniqueFd listening, grpc::Server* server);

  // Calls Stop().
  ~InheritedListener();
  InheritedListener(const InheritedListener&) = delete;
  InheritedListener& operator=(const InheritedListener&) = delete;

  // Stops accepting and joins the thread; connections already handed over
  // stay with the server. The listening socket stays open until the
  // destructor, so clients queue rather than being refused. Idempotent.
  void Stop();

 private:
  InheritedListener(UniqueFd listening, UniqueFd wake, grpc::Server* server);
  void Run();

  const UniqueFd listening_;
  const UniqueFd wake_;  // eventfd: readable once Stop() was called
  grpc::Server* const server_;
  std::thread thread_;
};

}  // namespace shmport::server

#endif  // SHMPORT_SERVER_INHERITED_LISTENER_H_
