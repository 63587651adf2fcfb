// SharedEvent: one WatchEvents event as every watcher holds it.
#ifndef SHMPORT_SERVER_SHARED_EVENT_H_
#define SHMPORT_SERVER_SHARED_EVENT_H_

#include <cstddef>
#include <memory>
#include <utility>

#include "shmport/v1/control.pb.h"

namespace shmport::server {

// Immutable once built, and shared by reference count: forty watchers of
// one event cost one copy of it. `bytes` (its encoded size, worked out
// once) is what each watcher is charged for queueing it.
struct SharedEvent {
  explicit SharedEvent(v1::Event e)
      : event(std::move(e)), bytes(event.ByteSizeLong()) {}
  const v1::Event event;
  const size_t bytes;
};
using EventRef = std::shared_ptr<const SharedEvent>;

}  // namespace shmport::server

#endif  // SHMPORT_SERVER_SHARED_EVENT_H_
