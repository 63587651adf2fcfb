#include "bench/shmport_c_endpoint.h"

#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "shmport/shmport.h"

namespace shmport::bench {
namespace {

// As ShmportTransport's: a receive this long means the peer is stuck.
constexpr int64_t kReceiveTimeoutMs = 60000;

absl::Status CError(shmport_status code, absl::string_view call) {
  return absl::Status(static_cast<absl::StatusCode>(code),
                      absl::StrCat(call, ": ", shmport_last_error()));
}

class ShmportCEndpoint : public Endpoint {
 public:
  ShmportCEndpoint(shmport_port* port, size_t payload_bytes)
      : port_(port), payload_bytes_(payload_bytes) {}
  ~ShmportCEndpoint() override {
    shmport_buffer_free(buffer_);
    shmport_message_release(message_);
    shmport_port_free(port_);
  }

  absl::StatusOr<absl::Span<uint8_t>> PrepareSend() override {
    if (shmport_status s = shmport_port_allocate(
            port_, payload_bytes_, SHMPORT_DEFAULT_TIMEOUT, &buffer_);
        s != SHMPORT_OK) {
      return CError(s, "shmport_port_allocate");
    }
    void* data = nullptr;
    size_t size = 0;
    shmport_buffer_data(buffer_, &data, &size);
    return absl::Span<uint8_t>(static_cast<uint8_t*>(data), size);
  }

  absl::Status Send() override {
    // Consumes the buffer whatever the result.
    const shmport_status s =
        shmport_port_send(port_, /*stream=*/1, std::exchange(buffer_, nullptr),
                          /*last=*/0);
    return s == SHMPORT_OK ? absl::OkStatus() : CError(s, "shmport_port_send");
  }

  absl::StatusOr<absl::Span<const uint8_t>> Receive() override {
    if (shmport_status s =
            shmport_port_receive(port_, kReceiveTimeoutMs, &message_);
        s != SHMPORT_OK) {
      return CError(s, "shmport_port_receive");
    }
    size_t fragments = 0;
    shmport_message_fragment_count(message_, &fragments);
    const void* data = nullptr;
    size_t size = 0;
    shmport_message_data(message_, &data, &size);
    if (fragments != 1) {
      return absl::DataLossError(
          absl::StrCat("message arrived in ", fragments, " fragments, not 1"));
    }
    return absl::Span<const uint8_t>(static_cast<const uint8_t*>(data), size);
  }

  void Release() override {
    shmport_message_release(std::exchange(message_, nullptr));
  }

 private:
  shmport_port* port_;
  size_t payload_bytes_;
  shmport_buffer* buffer_ = nullptr;    // between PrepareSend and Send
  shmport_message* message_ = nullptr;  // between Receive and Release
};

}  // namespace

absl::StatusOr<std::unique_ptr<Endpoint>> OpenCEndpoint(UniqueFd socket,
                                                        pid_t peer_pid,
                                                        size_t payload_bytes) {
  const shmport_peer peer = {.pid = peer_pid, .uid = getuid()};
  shmport_port* port = nullptr;
  if (shmport_status s =
          shmport_port_open_socket(socket.Release(), &peer, nullptr, &port);
      s != SHMPORT_OK) {
    return CError(s, "shmport_port_open_socket");
  }
  return std::make_unique<ShmportCEndpoint>(port, payload_bytes);
}

}  // namespace shmport::bench
