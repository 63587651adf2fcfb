#include "server/event_bus.h"

#include <malloc.h>

#include <algorithm>
#include <chrono>
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
  return Publish([&event] { return std::move(event); });
}

uint64_t EventBus::Publish(absl::FunctionRef<v1::Event()> make) {
  MutexLock lock(&mu_);
  const uint64_t sequence = ++sequence_;
  // Nobody could ever see it: later subscribers start after it.
  if (watchers_.empty() || closing_) return sequence;
  v1::Event event = make();
  event.set_sequence(sequence);
  event.set_time_unix_ms(absl::ToUnixMillis(absl::Now()));
  outbox_.push_back(std::make_shared<const SharedEvent>(std::move(event)));
  if (outbox_.size() == 1) wake_.Signal();
  return sequence;
}

bool EventBus::Subscribe(EventWatcher* watcher) {
  MutexLock lock(&mu_);
  if (closing_) return false;
  watchers_.push_back({watcher, sequence_ + 1});
  return true;
}

void EventBus::Unsubscribe(EventWatcher* watcher) {
  MutexLock lock(&mu_);
  auto it =
      std::find_if(watchers_.begin(), watchers_.end(),
                   [&](const Subscription& s) { return s.watcher == watcher; });
  if (it != watchers_.end()) {
    watchers_.erase(it);
    trim_due_ = true;
    wake_.Signal();
  }
  // A pass that copied the list before the erase may still offer to it.
  while (offering_) settled_.Wait(&lock);
}

void EventBus::Drain() {
  MutexLock lock(&mu_);
  while (!outbox_.empty() || offering_) settled_.Wait(&lock);
}

bool EventBus::StopFanOut() {
  {
    MutexLock lock(&mu_);
    if (closing_) return false;
    closing_ = true;
    wake_.Signal();
  }
  // The loop offers what the outbox holds before it returns.
  fan_out_.join();
  return true;
}

void EventBus::Close() {
  if (!StopFanOut()) return;
  MutexLock lock(&mu_);
  // Under the lock, so that an Unsubscribe (and the watcher's deletion)
  // cannot overtake the call.
  for (const Subscription& s : watchers_) s.watcher->OnBusClosed();
  watchers_.clear();
}

void EventBus::FanOutLoop() {
  MutexLock lock(&mu_);
  while (true) {
    if (outbox_.empty()) {
      if (closing_) return;
      if (!trim_due_) {
        wake_.Wait(&lock);
        continue;
      }
      const auto trim_at = std::chrono::steady_clock::now() + kTrimDelay;
      while (outbox_.empty() && !closing_ && wake_.WaitUntil(&lock, trim_at)) {
      }
      if (outbox_.empty() && !closing_) {
        trim_due_ = false;
        lock.Unlock();
        ::malloc_trim(0);
        lock.Lock();
      }
      continue;
    }
    std::deque<EventRef> batch;
    batch.swap(outbox_);
    const std::vector<Subscription> watchers = watchers_;
    offering_ = true;
    lock.Unlock();
    const std::vector<EventWatcher*> refused = Offer(batch, watchers);
    batch.clear();  // drop our references outside the lock
    lock.Lock();
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
    settled_.SignalAll();
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
  MutexLock lock(&mu_);
  return watchers_.size();
}

uint64_t EventBus::watchers_dropped() const {
  MutexLock lock(&mu_);
  return dropped_;
}

}  // namespace shmport::server
