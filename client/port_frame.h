// One encoded message as the socket and the ring take it.
#ifndef SHMPORT_CLIENT_PORT_FRAME_H_
#define SHMPORT_CLIENT_PORT_FRAME_H_

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>

#include "absl/types/span.h"
#include "common/wire.h"

namespace shmport::internal {

// The encoder's head and, for DATA, the inline payload after it: the one
// place where wire bytes become iovecs. Views both; keep them alive.
class Frame {
 public:
  explicit Frame(wire::Encoder& encoder,
                 absl::Span<const uint8_t> payload = {}) {
    const absl::Span<const uint8_t> head = encoder.bytes();
    // iovec is not const-correct; sendmsg and the ring only read.
    parts_[0] = {const_cast<uint8_t*>(head.data()), head.size()};
    parts_[1] = {const_cast<uint8_t*>(payload.data()), payload.size()};
    count_ = payload.empty() ? 1 : 2;
  }
  Frame(const Frame&) = delete;
  Frame& operator=(const Frame&) = delete;

  absl::Span<const iovec> parts() const { return {parts_, count_}; }

 private:
  iovec parts_[2];
  size_t count_;
};

}  // namespace shmport::internal

#endif  // SHMPORT_CLIENT_PORT_FRAME_H_
