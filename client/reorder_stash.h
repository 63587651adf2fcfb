// ReorderStash: ordered socket messages that arrived ahead of the ring's
// marker, held (bounded) until the ring catches up.
#ifndef SHMPORT_CLIENT_REORDER_STASH_H_
#define SHMPORT_CLIENT_REORDER_STASH_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "shmport/unique_fd.h"

namespace shmport::internal {

// A correct peer puts a marker in its ring before it sends ordered messages
// on the socket, so the stash only ever holds what crossed the socket while
// the receiver was still draining the ring: a handful of messages. A peer
// that announces a ring and never writes its marker would make the receiver
// hold everything it sends; the bounds make that the peer's protocol error.
//
// Not thread-safe: only the port's reader touches it.
class ReorderStash {
 public:
  struct Limits {
    size_t max_messages = 0;
    size_t max_bytes = 0;  // message bytes held
    size_t max_fds = 0;    // descriptors held
  };
  struct Entry {
    std::vector<uint8_t> bytes;
    std::vector<UniqueFd> fds;
  };

  explicit ReorderStash(const Limits& limits) : limits_(limits) {}

  // Keeps a copy of `bytes` and takes `fds`. When one more would pass a
  // bound, keeps nothing (the fds are closed) and returns
  // FAILED_PRECONDITION naming the bound and the amount held.
  absl::Status Push(absl::Span<const uint8_t> bytes,
                    std::vector<UniqueFd>& fds);
  // The oldest entry; the stash must not be empty.
  Entry Pop();
  // Releases every byte and fd held.
  void Clear();

  bool empty() const { return entries_.empty(); }
  size_t bytes() const { return bytes_; }
  size_t fds() const { return fds_; }

 private:
  const Limits limits_;
  std::deque<Entry> entries_;
  size_t bytes_ = 0;
  size_t fds_ = 0;
};

}  // namespace shmport::internal

#endif  // SHMPORT_CLIENT_REORDER_STASH_H_
