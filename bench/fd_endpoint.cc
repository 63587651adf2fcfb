#include "bench/fd_endpoint.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace shmport::bench {
namespace {

absl::Status ErrnoStatus(absl::string_view what, int err) {
  if (err == EPIPE || err == ECONNRESET) {
    return absl::UnavailableError(
        absl::StrCat(what, ": peer closed (", std::strerror(err), ")"));
  }
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(err)));
}

// Touched once, so the first measured message does not
// pay for page faults the later ones do not.
std::unique_ptr<uint8_t[]> NewBuffer(size_t bytes) {
  auto buffer = std::make_unique<uint8_t[]>(bytes);
  std::memset(buffer.get(), 0, bytes);
  return buffer;
}

}  // namespace

FdEndpoint::FdEndpoint(UniqueFd send_fd, UniqueFd recv_fd, size_t payload_bytes,
                       Framing framing)
    : send_fd_(std::move(send_fd)),
      recv_fd_(std::move(recv_fd)),
      payload_bytes_(payload_bytes),
      framing_(framing),
      send_buffer_(NewBuffer(payload_bytes)),
      recv_buffer_(NewBuffer(payload_bytes)) {}

absl::StatusOr<absl::Span<uint8_t>> FdEndpoint::PrepareSend() {
  return absl::Span<uint8_t>(send_buffer_.get(), payload_bytes_);
}

absl::Status FdEndpoint::Send() {
  const uint8_t* p = send_buffer_.get();
  size_t left = payload_bytes_;
  while (left > 0) {
    const ssize_t n = write(send_fd_.get(), p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("write", errno);
    }
    if (framing_ == Framing::kDatagram && static_cast<size_t>(n) != left) {
      return absl::InternalError(
          absl::StrCat("short datagram write: ", n, " of ", left, " bytes"));
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::Span<const uint8_t>> FdEndpoint::Receive() {
  absl::Status status =
      framing_ == Framing::kDatagram ? ReceiveDatagram() : ReceiveStream();
  if (!status.ok()) return status;
  return absl::Span<const uint8_t>(recv_buffer_.get(), payload_bytes_);
}

absl::Status FdEndpoint::ReceiveDatagram() {
  for (;;) {
    // MSG_TRUNC makes recv return the datagram's real length, so a message
    // of the wrong size is caught rather than silently cut.
    const ssize_t n =
        recv(recv_fd_.get(), recv_buffer_.get(), payload_bytes_, MSG_TRUNC);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("recv", errno);
    }
    if (n == 0) return absl::UnavailableError("recv: peer closed");
    if (static_cast<size_t>(n) != payload_bytes_) {
      return absl::DataLossError(
          absl::StrCat("datagram of ", n, " bytes, expected ", payload_bytes_));
    }
    return absl::OkStatus();
  }
}

absl::Status FdEndpoint::ReceiveStream() {
  uint8_t* p = recv_buffer_.get();
  size_t left = payload_bytes_;
  while (left > 0) {
    const ssize_t n = read(recv_fd_.get(), p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("read", errno);
    }
    if (n == 0) {
      return absl::UnavailableError(
          absl::StrCat("read: peer closed with ", payload_bytes_ - left, " of ",
                       payload_bytes_, " bytes of a message"));
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

}  // namespace shmport::bench
