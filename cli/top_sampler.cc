#include "cli/top_sampler.h"

#include <algorithm>
#include <tuple>

namespace shmport::cli {

DirectionRate TopSampler::Advance(EndState& state,
                                  const v1::PortEndStats& stats, absl::Time now,
                                  bool* measured) {
  const int64_t updated_at = stats.updated_at_unix_ms();
  if (updated_at == 0) {
    *measured = false;  // this end never reported
    return {};
  }
  if (state.updated_at_ms != 0 && updated_at > state.updated_at_ms &&
      stats.bytes_sent() >= state.bytes_sent &&
      stats.messages_sent() >= state.messages_sent) {
    const double seconds = (updated_at - state.updated_at_ms) / 1000.0;
    state.rate.bytes_per_second =
        static_cast<double>(stats.bytes_sent() - state.bytes_sent) / seconds;
    state.rate.messages_per_second =
        static_cast<double>(stats.messages_sent() - state.messages_sent) /
        seconds;
    state.oosm_per_second =
        stats.oosm_waits() >= state.oosm_waits
            ? static_cast<double>(stats.oosm_waits() - state.oosm_waits) /
                  seconds
            : 0;
    state.measured = true;
  }
  if (updated_at != state.updated_at_ms) {
    state.messages_sent = stats.messages_sent();
    state.bytes_sent = stats.bytes_sent();
    state.oosm_waits = stats.oosm_waits();
    state.updated_at_ms = updated_at;
  }
  *measured = state.measured;
  if (now - absl::FromUnixMillis(updated_at) > stale_after_) {
    state.oosm_per_second = 0;
    return {};
  }
  return state.rate;
}

std::vector<PortRate> TopSampler::Update(const v1::ListPortsResponse& ports,
                                         absl::Time now) {
  std::map<std::pair<uint64_t, int>, EndState> seen;
  std::vector<PortRate> rates;
  for (const v1::PortInfo& port : ports.ports()) {
    PortRate r;
    r.port_id = port.id();
    r.a_name = port.a().name();
    r.b_name = port.b().name();
    bool measured_a = false;
    bool measured_b = false;
    EndState& a = ends_[{port.id(), 0}];
    EndState& b = ends_[{port.id(), 1}];
    r.a_to_b = Advance(a, port.a().stats(), now, &measured_a);
    r.b_to_a = Advance(b, port.b().stats(), now, &measured_b);
    seen[{port.id(), 0}] = a;
    seen[{port.id(), 1}] = b;
    r.measured = measured_a || measured_b;
    r.oosm_per_second = a.oosm_per_second + b.oosm_per_second;
    for (const v1::PortEnd* end : {&port.a(), &port.b()}) {
      r.chunks_in_use += end->stats().chunks_in_use();
      r.chunks_total += static_cast<uint64_t>(end->stats().segments_out()) *
                        port.geometry().chunk_count();
      r.oosm_waits += end->stats().oosm_waits();
      r.protocol_errors += end->stats().protocol_errors();
    }
    rates.push_back(std::move(r));
  }
  ends_ = std::move(seen);
  std::sort(rates.begin(), rates.end(),
            [](const PortRate& x, const PortRate& y) {
              return x.port_id < y.port_id;
            });
  return rates;
}

std::vector<PortRate> Busiest(std::vector<PortRate> rates, size_t limit) {
  auto busier = [](const PortRate& x, const PortRate& y) {
    const double xm =
        x.a_to_b.messages_per_second + x.b_to_a.messages_per_second;
    const double ym =
        y.a_to_b.messages_per_second + y.b_to_a.messages_per_second;
    return std::make_tuple(-x.total_bytes_per_second(), -xm, x.port_id) <
           std::make_tuple(-y.total_bytes_per_second(), -ym, y.port_id);
  };
  std::sort(rates.begin(), rates.end(), busier);
  if (rates.size() > limit) rates.resize(limit);
  return rates;
}

}  // namespace shmport::cli
