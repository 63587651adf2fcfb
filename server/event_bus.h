// EventBus: fans registry events out to WatchEvents streams, in order.
#ifndef SHMPORT_SERVER_EVENT_BUS_H_
#define SHMPORT_SERVER_EVENT_BUS_H_

#include <cstdint>
#include <mutex>
#include <vector>

#include "shmport/v1/control.pb.h"

namespace shmport::server {

// One subscriber. Offer must not block and must not call back into the
// bus: the bus calls it with its own lock held, and the Switchboard calls
// the bus with the registry locked.
class EventWatcher {
 public:
  virtual ~EventWatcher() = default;
  // Queues `event` for delivery. Returns false when the watcher's bounded
  // queue is full; the watcher has then already ended its stream with
  // RESOURCE_EXHAUSTED, and the bus forgets it and counts a drop.
  virtual bool Offer(const v1::Event& event) = 0;
  // The daemon is shutting down: deliver what is queued, then end the
  // stream with OK. The bus has forgotten the watcher.
  virtual void OnBusClosed() = 0;
};

// Every published event gets the next sequence number (from 1) and the
// current time; every watcher sees events in sequence order, because
// Publish holds the bus lock while offering.
//
// Thread-safety: all methods are thread-safe. Lock order: callers may hold
// the Switchboard's lock when calling in; the bus lock is taken after it.
class EventBus {
 public:
  EventBus() = default;
  EventBus(const EventBus&) = delete;
  EventBus& operator=(const EventBus&) = delete;

  // Stamps `event` (sequence, time) and offers it to every watcher.
  // Returns the sequence number.
  uint64_t Publish(v1::Event event);

  // Adds a watcher (not owned). Returns false after Close(): the caller
  // should end the stream at once.
  bool Subscribe(EventWatcher* watcher);
  // Removes a watcher; after it returns, the bus never calls it again.
  // A no-op for a watcher the bus already forgot.
  void Unsubscribe(EventWatcher* watcher);

  // Tells every watcher to finish (OnBusClosed) and refuses new ones.
  void Close();

  uint32_t watcher_count() const;
  // Watchers dropped for lagging (each drop loses that watcher's remaining
  // events; DaemonStats.events_dropped).
  uint64_t watchers_dropped() const;
  uint64_t last_sequence() const;

 private:
  mutable std::mutex mu_;  // guards everything below
  std::vector<EventWatcher*> watchers_;
  uint64_t sequence_ = 0;
  uint64_t dropped_ = 0;
  bool closed_ = false;
};

}  // namespace shmport::server

#endif  // SHMPORT_SERVER_EVENT_BUS_H_
