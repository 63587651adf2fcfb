// The counters of one port end, named once. PortCounters (the atomics the
// data path bumps) is the one struct; PortStats (what Port::stats() and the
// C and Python APIs show) and the broker's PortEndStats (StatsReport, and
// from it shmportctl's JSON) are produced from it by these lists, so that a
// new counter is one line here, one field in each struct and one proto
// field, and none is dropped on the way (client/port_stats_proto_test.cc).
#ifndef SHMPORT_CLIENT_PORT_COUNTERS_H_
#define SHMPORT_CLIENT_PORT_COUNTERS_H_

#include <atomic>
#include <cstdint>

#include "shmport/port_stats.h"

namespace shmport::internal {

// Adds `n` to a statistics counter that one thread at a time writes (the
// holder of OrderedSender::mu_, or the reader): a load and a store instead
// of a locked add, which is a full barrier on x86, on every message.
// stats() still reads whole values.
inline void AddSingleWriter(std::atomic<uint64_t>& counter, uint64_t n) {
  counter.store(counter.load(std::memory_order_relaxed) + n,
                std::memory_order_relaxed);
}

// The live counters behind PortStats, bumped on the data path.
// Thread-safety: all members are atomics; any thread may read or bump them.
struct PortCounters {
  std::atomic<uint64_t> messages_sent{0};
  std::atomic<uint64_t> bytes_sent{0};
  std::atomic<uint64_t> messages_received{0};
  std::atomic<uint64_t> bytes_received{0};
  std::atomic<uint32_t> segments_out{0};
  std::atomic<uint32_t> segments_in{0};
  std::atomic<uint64_t> oosm_waits{0};
  std::atomic<uint64_t> protocol_errors{0};
  std::atomic<uint64_t> cancels_won{0};
  std::atomic<uint64_t> cancels_lost{0};
  std::atomic<uint64_t> cancelled_dropped{0};
  std::atomic<uint64_t> sent_via_ring{0};
  std::atomic<uint64_t> ring_fallbacks{0};
  std::atomic<uint64_t> receive_spins{0};
  std::atomic<uint64_t> receive_spin_hits{0};
  std::atomic<bool> closed{false};
};

// Calls visit(wire_name, &PortCounters::x, &PortStats::x) for every counter,
// wire_name being its PortEndStats field.
template <typename Visit>
void ForEachCounter(Visit&& visit) {
  visit("messages_sent", &PortCounters::messages_sent,
        &PortStats::messages_sent);
  visit("bytes_sent", &PortCounters::bytes_sent, &PortStats::bytes_sent);
  visit("messages_received", &PortCounters::messages_received,
        &PortStats::messages_received);
  visit("bytes_received", &PortCounters::bytes_received,
        &PortStats::bytes_received);
  visit("segments_out", &PortCounters::segments_out, &PortStats::segments_out);
  visit("segments_in", &PortCounters::segments_in, &PortStats::segments_in);
  visit("oosm_waits", &PortCounters::oosm_waits, &PortStats::oosm_waits);
  visit("protocol_errors", &PortCounters::protocol_errors,
        &PortStats::protocol_errors);
  visit("cancels_won", &PortCounters::cancels_won, &PortStats::cancels_won);
  visit("cancels_lost", &PortCounters::cancels_lost, &PortStats::cancels_lost);
  visit("cancelled_dropped", &PortCounters::cancelled_dropped,
        &PortStats::cancelled_dropped);
  visit("sent_via_ring", &PortCounters::sent_via_ring,
        &PortStats::sent_via_ring);
  visit("ring_fallbacks", &PortCounters::ring_fallbacks,
        &PortStats::ring_fallbacks);
  visit("receive_spins", &PortCounters::receive_spins,
        &PortStats::receive_spins);
  visit("receive_spin_hits", &PortCounters::receive_spin_hits,
        &PortStats::receive_spin_hits);
}

// Calls visit(wire_name, &PortStats::x) for what the pool measures when
// asked (no counter behind it).
template <typename Visit>
void ForEachGauge(Visit&& visit) {
  visit("chunks_in_use", &PortStats::chunks_in_use);
  visit("tracking_in_flight", &PortStats::tracking_in_flight);
  visit("mapped_bytes", &PortStats::mapped_bytes_out);
  visit("resident_bytes", &PortStats::resident_bytes_out);
}

// Calls visit(wire_name, &PortStats::x) for every field a StatsReport
// carries (all but `closed`, which the report's closed_port_ids says).
template <typename Visit>
void ForEachReportedStat(Visit&& visit) {
  ForEachCounter(
      [&](const char* name, auto, auto field) { visit(name, field); });
  ForEachGauge(visit);
}

// The counters' values now (relaxed: each is exact, together they are not
// a snapshot of one instant). Leaves the gauges alone.
inline void ReadCounters(const PortCounters& c, PortStats& s) {
  ForEachCounter([&](const char*, auto counter, auto field) {
    s.*field = (c.*counter).load(std::memory_order_relaxed);
  });
  s.closed = c.closed.load(std::memory_order_relaxed);
}

}  // namespace shmport::internal

#endif  // SHMPORT_CLIENT_PORT_COUNTERS_H_
