#include "server/event_bus.h"

#include <malloc.h>

#include <algorithm>
#include <utility>

#include "absl/time/clock.h"
#include "common/log.h"

namespace shmport::server {
namespace {

// How long the bus waits, idle, after a watcher left before it returns
// freed heap to the kernel: one trim for a crowd leaving, not one each.
constexpr auto kTrimDelay = std::chrono::milliseconds(200);

}  // namespace

EventBus::EventBus() : fan_out_([this] { FanOutLoop(); }) {}

EventBus::~EventBus() {
  // Watchers still subscribed may be gone already: only stop the thread.
  StopFanOut();
}

uint64_t EventBus::Publish(v1::Event event) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t sequence = ++sequence_;
  // Nobody could ever see it: later subscribers start after it.
  if (watchers_.empty() || closing_) return sequence;
  event.set_sequence(sequence);
  event.set_time_unix_ms(absl::ToUnixMillis(absl::Now()));
  outbox_.push_back(std::make_shared<const SharedEvent>(std::move(event)));
  if (outbox_.size() == 1) wake_.notify_one();
  return sequence;
}

bool EventBus::Subscribe(EventWatcher* watcher) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closing_) return false;
  watchers_.push_back({watcher, sequence_ + 1});
  return true;
}

void EventBus::Unsubscribe(EventWatcher* watcher) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it =
      std::find_if(watchers_.begin(), watchers_.end(),
                   [&](const Subscription& s) { return s.watcher == watcher; });
  if (it != watchers_.end()) {
    watchers_.erase(it);
    trim_due_ = true;
    wake_.notify_one();
  }
  // A pass that copied the list before the erase may still offer to it.
  settled_.wait(lock, [&] { return !offering_; });
}

void EventBus::Drain() {
  std::unique_lock<std::mutex> lock(mu_);
  settled_.wait(lock, [&] { return outbox_.empty() && !offering_; });
}

bool EventBus::StopFanOut() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closing_) return false;
    closing_ = true;
    wake_.notify_one();
  }
  // The loop offers what the outbox holds before it returns.
  fan_out_.join();
  return true;
}

void EventBus::Close() {
  if (!StopFanOut()) return;
  std::lock_guard<std::mutex> lock(mu_);
  // Under the lock, so that an Unsubscribe (and the watcher's deletion)
  // cannot overtake the call.
  for (const Subscription& s : watchers_) s.watcher->OnBusClosed();
  watchers_.clear();
}

void EventBus::FanOutLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (outbox_.empty()) {
      if (closing_) return;
      auto busy = [&] { return !outbox_.empty() || closing_; };
      if (!trim_due_) {
        wake_.wait(lock, [&] { return busy() || trim_due_; });
      } else if (!wake_.wait_for(lock, kTrimDelay, busy)) {
        trim_due_ = false;
        lock.unlock();
        ::malloc_trim(0);
        lock.lock();
      }
      continue;
    }
    std::deque<EventRef> batch;
    batch.swap(outbox_);
    const std::vector<Subscription> watchers = watchers_;
    offering_ = true;
    lock.unlock();
    const std::vector<EventWatcher*> refused = Offer(batch, watchers);
    batch.clear();  // drop our references outside the lock
    lock.lock();
    offering_ = false;
    for (EventWatcher* w : refused) {
      auto it =
          std::find_if(watchers_.begin(), watchers_.end(),
                       [&](const Subscription& s) { return s.watcher == w; });
      if (it == watchers_.end()) continue;  // left meanwhile
      watchers_.erase(it);
      ++dropped_;
      trim_due_ = true;
    }
    settled_.notify_all();
  }
}

std::vector<EventWatcher*> EventBus::Offer(
    const std::deque<EventRef>& batch,
    const std::vector<Subscription>& watchers) {
  std::vector<bool> dropped(watchers.size(), false);
  std::vector<EventWatcher*> refused;
  for (const EventRef& event : batch) {
    const uint64_t sequence = event->event.sequence();
    for (size_t i = 0; i < watchers.size(); ++i) {
      if (dropped[i] || sequence < watchers[i].first_sequence) continue;
      if (watchers[i].watcher->Offer(event)) continue;
      dropped[i] = true;
      refused.push_back(watchers[i].watcher);
      Log(LogLevel::kWarning, "watcher_dropped",
          {{"sequence", sequence}, {"reason", "queue full"}});
    }
  }
  return refused;
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
