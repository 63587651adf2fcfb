#include "client/topic_subscriber_link.h"

#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>

#include "common/errors.h"

namespace shmport::internal {

void SubscriberLink::Release(uint64_t sequence, uint64_t shared_bytes) {
  MutexLock lock(&mu_);
  if (closed_) return;
  unsent_.push_back(sequence);
  unsent_bytes_ += shared_bytes;
  // One ioctl instead of a datagram (and the publisher's wake-up) per
  // sample while the receiving thread is behind.
  if (unsent_.size() < release_batch_ && unsent_bytes_ < gather_bytes_ &&
      (more_in_hand_ || UnreadMessages())) {
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

bool SubscriberLink::Drained(bool owe_waiting) {
  MutexLock lock(&mu_);
  if (closed_) return true;
  if (owe_waiting && publisher_takes_waiting_) return SendUnsent(true);
  if (!unsent_.empty()) SendUnsent();
  return true;
}

void SubscriberLink::OnPublisherHello(uint32_t release_batch,
                                      uint64_t pool_bytes, bool takes_waiting) {
  MutexLock lock(&mu_);
  gather_bytes_ = pool_bytes / 8;
  release_batch_ =
      std::clamp<uint32_t>(release_batch, 1, topic_wire::kMaxReleases);
  publisher_takes_waiting_ = takes_waiting;
}

bool SubscriberLink::UnreadMessages() const {
  int bytes = 0;
  return ::ioctl(channel_.fd(), FIONREAD, &bytes) == 0 && bytes > 0;
}

bool SubscriberLink::SendUnsent(bool waiting) {
  while (!unsent_.empty() || waiting) {
    const bool last = unsent_.size() <= topic_wire::kMaxReleases;
    topic_wire::Message m(waiting && last ? topic_wire::Type::kWaiting
                                          : topic_wire::Type::kRelease);
    size_t n = 0;
    while (n < unsent_.size() && !m.full()) m.Put(unsent_[n++]);
    const absl::Status s = channel_.Send(m.bytes(), {}, false, true);
    if (IsWouldBlock(s)) return false;  // kept for the next release
    if (!s.ok()) {
      closed_ = true;  // the publisher is gone: nothing to give back
      unsent_.clear();
      return true;
    }
    unsent_.erase(unsent_.begin(), unsent_.begin() + n);
    if (unsent_.empty()) unsent_bytes_ = 0;
    if (waiting && last) return true;
  }
  return true;
}

void SubscriberLink::Close() {
  MutexLock lock(&mu_);
  if (closed_) return;
  closed_ = true;
  unsent_.clear();
  ::shutdown(channel_.fd(), SHUT_RDWR);
}

}  // namespace shmport::internal
