#include "server/event_bus.h"

#include <algorithm>
#include <utility>

#include "absl/time/clock.h"
#include "common/log.h"

namespace shmport::server {

uint64_t EventBus::Publish(v1::Event event) {
  std::lock_guard<std::mutex> lock(mu_);
  event.set_sequence(++sequence_);
  event.set_time_unix_ms(absl::ToUnixMillis(absl::Now()));
  for (auto it = watchers_.begin(); it != watchers_.end();) {
    if ((*it)->Offer(event)) {
      ++it;
      continue;
    }
    ++dropped_;
    Log(LogLevel::kWarning, "watcher_dropped",
        {{"sequence", event.sequence()}, {"reason", "queue full"}});
    it = watchers_.erase(it);
  }
  return event.sequence();
}

bool EventBus::Subscribe(EventWatcher* watcher) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return false;
  watchers_.push_back(watcher);
  return true;
}

void EventBus::Unsubscribe(EventWatcher* watcher) {
  std::lock_guard<std::mutex> lock(mu_);
  watchers_.erase(std::remove(watchers_.begin(), watchers_.end(), watcher),
                  watchers_.end());
}

void EventBus::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  for (EventWatcher* w : watchers_) w->OnBusClosed();
  watchers_.clear();
}

uint32_t EventBus::watcher_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return watchers_.size();
}

uint64_t EventBus::watchers_dropped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dropped_;
}

uint64_t EventBus::last_sequence() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sequence_;
}

}  // namespace shmport::server
