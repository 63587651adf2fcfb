// Reclaimer: the one process-wide thread that gives idle shared memory back
// (releases idle outgoing segments, returns large free runs to the kernel)
// for every port of the process, without needing traffic on them.
#ifndef SHMPORT_CLIENT_RECLAIMER_H_
#define SHMPORT_CLIENT_RECLAIMER_H_

#include <memory>

#include "absl/time/time.h"

namespace shmport::internal {

// What the Reclaimer calls, on its own thread, for each registered port.
class Reclaimable {
 public:
  virtual ~Reclaimable() = default;
  // Looks for memory to give back; must not block for long (the thread
  // serves every port of the process).
  virtual void Reclaim(absl::Time now) = 0;
  // How often Reclaim should run for this port.
  virtual absl::Duration reclaim_period() const = 0;
};

// Registers `port` until it dies or is unregistered (a weak reference:
// the Reclaimer holds it only during one Reclaim call). Starts the thread
// on first use; the thread ends once no port is registered and starts
// again on the next registration (also in a forked child, where the
// parent's thread does not exist). Thread-safe.
void RegisterForReclaim(std::weak_ptr<Reclaimable> port);
// Stops reclaiming for `port`, waiting for a Reclaim of it in progress to
// end, so that the caller's reference is the last one the Reclaimer saw
// (the port, and its fds, go when the caller lets go). Must not be called
// from Reclaim itself.
void UnregisterFromReclaim(const Reclaimable* port);

}  // namespace shmport::internal

#endif  // SHMPORT_CLIENT_RECLAIMER_H_
