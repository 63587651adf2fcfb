// PortResumption: the ports processes re-declare after a daemon restart,
// and the rule that lets one back into the registry.
//
// A port survives a daemon restart (its socketpair and segments do not need
// the daemon), but the new daemon knows nothing of it. Each end, attached
// anew, declares it (v1::ResumePorts): the old port id, the other end's
// pid as its HELLO checked it, and whether it opened the port. A port is
// recorded again only when its two ends' declarations agree: the same id,
// each naming the other's pid (which the daemon checked itself at their
// attaches), opposite initiator flags. So a process cannot claim a port to
// someone who does not claim one back, and two processes that agree on a
// fiction get no more than OpenPort would give them (the caller applies the
// same limits). Two sessions of one process (one pid) match like any two;
// a registration never completes its own declaration. A declaration waits for
// its other half, at most `max_pending` per process, until the process's
// registration ends.
//
// Thread-safety: none; the Switchboard serialises all access.
#ifndef SHMPORT_SERVER_PORT_RESUMPTION_H_
#define SHMPORT_SERVER_PORT_RESUMPTION_H_

#include <sys/types.h>

#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "shmport/v1/broker.pb.h"

namespace shmport::server {

class PortResumption {
 public:
  // Both halves found: the port from `a` (its opener) to `b`.
  struct Match {
    uint64_t port_id = 0;
    uint64_t a = 0;
    uint64_t b = 0;
    v1::Geometry geometry;  // the opener's declaration
  };
  struct Outcome {
    std::vector<Match> matched;
    uint32_t waiting = 0;  // kept for their other half
    uint32_t refused = 0;  // beyond max_pending, duplicates, id or pid 0
  };

  // Takes in `process_id`'s (attached with `pid`) declarations.
  Outcome Declare(uint64_t process_id, pid_t pid, const v1::ResumePorts& r,
                  uint32_t max_pending);
  // Drops what `process_id` declared and nobody matched.
  void Forget(uint64_t process_id);
  size_t pending() const { return pending_; }

 private:
  struct Offer {
    uint64_t process_id = 0;
    pid_t pid = 0;
    pid_t peer_pid = 0;
    bool initiator = false;
    v1::Geometry geometry;
  };
  // True when `offer` is the other half of `d`, declared by `pid`.
  static bool Completes(const Offer& offer, const v1::ResumedPort& d,
                        uint64_t process_id, pid_t pid);

  absl::flat_hash_map<uint64_t, std::vector<Offer>> by_port_;
  absl::flat_hash_map<uint64_t, uint32_t> count_by_process_;
  size_t pending_ = 0;
};

}  // namespace shmport::server

#endif  // SHMPORT_SERVER_PORT_RESUMPTION_H_
