#include "shmport/port.h"

#include <utility>

#include "client/port_core.h"
#include "client/reclaimer.h"

namespace shmport {

absl::StatusOr<std::unique_ptr<Port>> Port::Open(UniqueFd socket,
                                                 const PeerIdentity& peer,
                                                 const PortOptions& options) {
  auto core = internal::PortCore::Open(std::move(socket), peer, options);
  if (!core.ok()) return core.status();
  return std::unique_ptr<Port>(new Port(*std::move(core)));
}

absl::Status Port::SendHello(int socket, const PortOptions& options) {
  return internal::PortCore::SendHello(socket, options);
}

Port::Port(std::shared_ptr<internal::PortCore> core) : core_(std::move(core)) {}

Port::~Port() {
  internal::UnregisterFromReclaim(core_.get());
  core_->Close(absl::UnavailableError("the port was closed by this end"),
               /*send_bye=*/true);
  // Messages nobody received hold the core alive (each keeps a reference
  // to return its chunks); drop them, or the core, its socket and its
  // mappings would keep each other alive forever.
  core_->DropInbox();
}

absl::StatusOr<Buffer> Port::Allocate(size_t size) {
  return Allocate(size, core_->options().allocate_timeout);
}

absl::StatusOr<Buffer> Port::Allocate(size_t size, absl::Duration timeout) {
  return core_->Allocate(size, size, internal::Deadline(timeout), true);
}

absl::StatusOr<Buffer> Port::Allocate(size_t size, size_t min_size,
                                      absl::Duration timeout) {
  return core_->Allocate(size, min_size, internal::Deadline(timeout), true);
}

absl::StatusOr<Buffer> Port::TryAllocate(size_t size) {
  return core_->Allocate(size, size, internal::Deadline::Passed(), false);
}

absl::Status Port::Send(uint32_t stream, Buffer buffer, bool last) {
  return core_->Send(stream, absl::MakeSpan(&buffer, 1), last, nullptr);
}

absl::Status Port::Send(uint32_t stream, std::vector<Buffer> buffers,
                        bool last) {
  return core_->Send(stream, absl::MakeSpan(buffers), last, nullptr);
}

absl::Status Port::SendCopy(uint32_t stream, absl::Span<const uint8_t> bytes,
                            bool last) {
  return core_->SendCopy(stream, bytes, last);
}

absl::StatusOr<Tracking> Port::SendTracked(uint32_t stream, Buffer buffer,
                                           bool last) {
  return core_->SendTracked(stream, std::move(buffer), last);
}

absl::StatusOr<Message> Port::Receive(absl::Duration timeout) {
  return core_->Receive(internal::Deadline(timeout));
}

absl::StatusOr<std::optional<Message>> Port::TryReceive() {
  return core_->TryReceive();
}

int Port::fd() const { return core_->fd(); }

void Port::Close() {
  core_->Close(absl::UnavailableError("the port was closed by this end"),
               /*send_bye=*/true);
}

bool Port::closed() const { return core_->closed() || core_->PeerGone(); }
absl::Status Port::closed_reason() const {
  absl::Status reason = core_->closed_reason();
  if (reason.ok() && core_->peer_gone()) return core_->peer_gone_reason();
  return reason;
}
const PeerIdentity& Port::peer() const { return core_->peer(); }
const SegmentGeometry& Port::peer_geometry() const {
  return core_->peer_geometry();
}
uint64_t Port::port_id() const { return core_->options().port_id; }
PortStats Port::stats() const { return core_->stats(); }
std::shared_ptr<const PortStatsSource> Port::stats_source() const {
  return core_;
}

}  // namespace shmport
