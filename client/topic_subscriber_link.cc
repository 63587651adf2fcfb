#include "client/topic_subscriber_link.h"

#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>

#include "common/errors.h"

namespace shmport::internal {

void SubscriberLink::Release(uint64_t sequence) {
  MutexLock lock(&mu_);
  if (closed_) return;
  unsent_.push_back(sequence);
  // One ioctl instead of a datagram (and the publisher's wake-up) per
  // sample while the receiving thread is behind.
  if (unsent_.size() < release_batch_ && (more_in_hand_ || UnreadMessages())) {
    return;
  }
  SendUnsent();
}

void SubscriberLink::HandedOut(bool more_in_hand) {
  MutexLock lock(&mu_);
  more_in_hand_ = more_in_hand;
  if (!closed_ && !more_in_hand && !unsent_.empty() && !UnreadMessages()) {
    SendUnsent();
  }
}

void SubscriberLink::Flush() {
  MutexLock lock(&mu_);
  if (!closed_ && !unsent_.empty()) SendUnsent();
}

void SubscriberLink::SetReleaseBatch(uint32_t batch) {
  MutexLock lock(&mu_);
  release_batch_ = std::clamp<uint32_t>(batch, 1, topic_wire::kMaxReleases);
}

bool SubscriberLink::UnreadMessages() const {
  int bytes = 0;
  return ::ioctl(channel_.fd(), FIONREAD, &bytes) == 0 && bytes > 0;
}

void SubscriberLink::SendUnsent() {
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
