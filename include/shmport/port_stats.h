// Counters of one port end, updated lock-free on the data path.
#ifndef SHMPORT_PORT_STATS_H_
#define SHMPORT_PORT_STATS_H_

#include <cstdint>

namespace shmport {

// A snapshot of a port end's counters.
struct PortStats {
  uint64_t messages_sent = 0;
  uint64_t bytes_sent = 0;
  uint64_t messages_received = 0;
  uint64_t bytes_received = 0;
  uint32_t segments_out = 0;        // segments this end created and maps
  uint32_t segments_in = 0;         // peer segments this end maps
  uint32_t chunks_in_use = 0;       // busy chunks in this end's segments
  uint32_t tracking_in_flight = 0;  // tracking slots not yet settled
  uint64_t oosm_waits = 0;          // times a sender had to wait for memory
  uint64_t protocol_errors = 0;
  uint64_t cancels_won = 0;        // tracked sends this end cancelled in time
  uint64_t cancels_lost = 0;       // cancels that came after the peer claimed
  uint64_t cancelled_dropped = 0;  // incoming messages dropped as cancelled
  uint64_t sent_via_ring = 0;      // ordered messages that skipped the socket
  uint64_t ring_fallbacks = 0;     // times the ring was full or an fd had to go
  uint64_t receive_spins = 0;      // waits that busy-polled the ring first
  uint64_t receive_spin_hits = 0;  // of those, the ones a message ended
  uint64_t mapped_bytes_out = 0;   // this end's outgoing segments, mapped
  uint64_t resident_bytes_out = 0;  // of those, in RAM (mincore)
  bool closed = false;
};

// Produces a PortStats snapshot on demand, from any thread. A Session keeps
// a weak reference to each of its ports' sources and reports them to the
// daemon without owning the ports.
class PortStatsSource {
 public:
  virtual ~PortStatsSource() = default;
  virtual PortStats Snapshot() const = 0;
};

}  // namespace shmport

#endif  // SHMPORT_PORT_STATS_H_
