#include "bench/pipe_transport.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bench/fd_endpoint.h"
#include "shmport/unique_fd.h"

namespace shmport::bench {
namespace {

absl::Status Errno(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

// One pipe per direction: forward carries sender -> receiver, backward the
// replies of ping-pong.
class PipeConnection : public Connection {
 public:
  PipeConnection(UniqueFd forward_read, UniqueFd forward_write,
                 UniqueFd backward_read, UniqueFd backward_write,
                 size_t payload_bytes)
      : forward_read_(std::move(forward_read)),
        forward_write_(std::move(forward_write)),
        backward_read_(std::move(backward_read)),
        backward_write_(std::move(backward_write)),
        payload_bytes_(payload_bytes) {}

  absl::StatusOr<std::unique_ptr<Endpoint>> Open(Side side,
                                                 pid_t peer_pid) override {
    // Closing the other side's ends matters: a reader sees EOF only when
    // every write end is closed.
    if (side == Side::kSender) {
      forward_read_.Reset();
      backward_write_.Reset();
      return std::make_unique<FdEndpoint>(std::move(forward_write_),
                                          std::move(backward_read_),
                                          payload_bytes_, Framing::kStream);
    }
    forward_write_.Reset();
    backward_read_.Reset();
    return std::make_unique<FdEndpoint>(std::move(backward_write_),
                                        std::move(forward_read_),
                                        payload_bytes_, Framing::kStream);
  }

 private:
  UniqueFd forward_read_, forward_write_;
  UniqueFd backward_read_, backward_write_;
  size_t payload_bytes_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Connection>> PipeTransport::Connect(
    size_t payload_bytes) const {
  int forward[2];
  int backward[2];
  if (pipe2(forward, O_CLOEXEC) != 0) return Errno("pipe2");
  UniqueFd fr(forward[0]), fw(forward[1]);
  if (pipe2(backward, O_CLOEXEC) != 0) return Errno("pipe2");
  UniqueFd br(backward[0]), bw(backward[1]);
  if (pipe_bytes_ > 0) {
    for (int fd : {fw.get(), bw.get()}) {
      if (fcntl(fd, F_SETPIPE_SZ, pipe_bytes_) < 0) {
        return Errno(absl::StrCat("fcntl(F_SETPIPE_SZ, ", pipe_bytes_, ")"));
      }
    }
  }
  return std::make_unique<PipeConnection>(std::move(fr), std::move(fw),
                                          std::move(br), std::move(bw),
                                          payload_bytes);
}

}  // namespace shmport::bench
