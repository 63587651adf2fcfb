#include "client/topic_subscriber_link.h"

#include <sys/socket.h>

#include "common/errors.h"

namespace shmport::internal {

void SubscriberLink::Release(uint64_t sequence) {
  MutexLock lock(&mu_);
  if (closed_) return;
  unsent_.push_back(sequence);
  while (!unsent_.empty()) {
    topic_wire::Message m(topic_wire::Type::kRelease);
    size_t n = 0;
    while (n < unsent_.size() && !m.full()) m.Put(unsent_[n++]);
    const absl::Status s = channel_.Send(m.bytes(), {}, false, true);
    if (IsWouldBlock(s)) return;  // kept for the next release
    if (!s.ok()) {
      closed_ = true;  // the publisher is gone: nothing to give back
      unsent_.clear();
      return;
    }
    unsent_.erase(unsent_.begin(), unsent_.begin() + n);
  }
}

void SubscriberLink::Close() {
  MutexLock lock(&mu_);
  if (closed_) return;
  closed_ = true;
  unsent_.clear();
  ::shutdown(channel_.fd(), SHUT_RDWR);
}

}  // namespace shmport::internal
