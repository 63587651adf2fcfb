// EventBus: fans registry events out to WatchEvents streams, in order,
// from its own thread, sharing one immutable copy of each event.
#ifndef SHMPORT_SERVER_EVENT_BUS_H_
#define SHMPORT_SERVER_EVENT_BUS_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "common/mutex.h"
#include "server/shared_event.h"
#include "shmport/v1/control.pb.h"

namespace shmport::server {

// One subscriber. Offer must not block and must not call back into the
// bus; the bus calls it from its fan-out thread (or the Switchboard, for
// the include_existing snapshot, under its own lock).
class EventWatcher {
 public:
  virtual ~EventWatcher() = default;
  // Queues `event` for delivery. Returns false when the watcher's bounded
  // queue (events or bytes) is full; the watcher has then already ended
  // its stream with RESOURCE_EXHAUSTED, and the bus forgets it and counts
  // a drop.
  virtual bool Offer(const EventRef& event) = 0;
  // The daemon is shutting down: deliver what is queued, then end the
  // stream with OK. The bus has forgotten the watcher.
  virtual void OnBusClosed() = 0;
};

// Every published event gets the next sequence number (from 1) and the
// current time. Publish only appends to an outbox and wakes the fan-out
// thread, so its cost does not grow with the number of watchers; that
// one thread offers the events in sequence order, so every watcher sees
// them in order. A watcher subscribed after event N was published sees
// N+1 onwards. After the last watcher leaves, the bus returns freed heap
// to the kernel (malloc_trim), since queued events may have been large.
//
// Thread-safety: all methods are thread-safe. Lock order: callers may hold
// the Switchboard's lock when calling in; the bus lock is taken after it.
// The fan-out thread calls watchers without the bus lock.
class EventBus {
 public:
  EventBus();
  // Stops the fan-out thread; unlike Close() it does not call watchers.
  ~EventBus();
  EventBus(const EventBus&) = delete;
  EventBus& operator=(const EventBus&) = delete;

  // Stamps `event` (sequence, time) and queues it for every watcher.
  // Returns the sequence number.
  uint64_t Publish(v1::Event event) ABSL_LOCKS_EXCLUDED(mu_);
  // The same for the event `make` builds, called (under the bus lock) only
  // when a watcher could see it: with none, an event costs no copy.
  uint64_t Publish(absl::FunctionRef<v1::Event()> make)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Adds a watcher (not owned) for the events published from now on.
  // Returns false after Close(): the caller should end the stream at once.
  bool Subscribe(EventWatcher* watcher) ABSL_LOCKS_EXCLUDED(mu_);
  // Removes a watcher; after it returns, the bus never calls it again.
  // A no-op for a watcher the bus already forgot.
  void Unsubscribe(EventWatcher* watcher) ABSL_LOCKS_EXCLUDED(mu_);

  // Waits until every event published so far has been offered.
  void Drain() ABSL_LOCKS_EXCLUDED(mu_);

  // Offers what is queued, tells every watcher to finish (OnBusClosed) and
  // refuses new ones. Idempotent.
  void Close() ABSL_LOCKS_EXCLUDED(mu_);

  uint32_t watcher_count() const ABSL_LOCKS_EXCLUDED(mu_);
  // Watchers dropped for lagging (each drop loses that watcher's remaining
  // events; DaemonStats.events_dropped).
  uint64_t watchers_dropped() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Subscription {
    EventWatcher* watcher;
    uint64_t first_sequence;  // events before it predate the subscription
  };

  void FanOutLoop() ABSL_LOCKS_EXCLUDED(mu_);
  // Offers what is queued and ends the thread; false when already done.
  bool StopFanOut() ABSL_LOCKS_EXCLUDED(mu_);
  // Offers `batch` to `watchers`; returns the watchers that refused.
  static std::vector<EventWatcher*> Offer(
      const std::deque<EventRef>& batch,
      const std::vector<Subscription>& watchers);

  // Guards everything below. Lock order (docs/architecture.md, "Locks"):
  // taken after Switchboard::mu_; held while Close tells watchers
  // (OnBusClosed takes a watcher's lock), never while offering events.
  mutable Mutex mu_;
  CondVar wake_;     // outbox filled, closing, trim due
  CondVar settled_;  // a fan-out pass ended
  std::vector<Subscription> watchers_ ABSL_GUARDED_BY(mu_);
  // Published, not offered yet.
  std::deque<EventRef> outbox_ ABSL_GUARDED_BY(mu_);
  bool offering_ ABSL_GUARDED_BY(mu_) = false;  // a pass runs without mu_
  uint64_t sequence_ ABSL_GUARDED_BY(mu_) = 0;  // last published
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  // A watcher left: give memory back when idle.
  bool trim_due_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  std::thread fan_out_;  // last: starts once the rest is built
};

}  // namespace shmport::server

#endif  // SHMPORT_SERVER_EVENT_BUS_H_
