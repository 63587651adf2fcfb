// LimitRefusals: how often the daemon refused something because a
// configured limit was reached, by the limit's config field
// ("limits.max_ports_per_pair", "connections.max_control_connections"),
// for shmport_limit_refusals_total. Every refusal already names its limit
// in its message (docs/control-plane.md); this reads the name from there,
// so the gRPC interceptor, the control listener and the broker count the
// same way without each call site knowing the metric.
#ifndef SHMPORT_SERVER_LIMIT_REFUSALS_H_
#define SHMPORT_SERVER_LIMIT_REFUSALS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/mutex.h"

namespace shmport::server {

// The limit `message` names, from a fixed list of the config's limit
// fields (so that no text a client put in a message becomes a label);
// empty when it names none.
absl::string_view LimitNamedIn(absl::string_view message);

// Thread-safety: thread-safe.
class LimitRefusals {
 public:
  // Every known limit starts at 0, so each series exists from the start.
  LimitRefusals();

  // Counts `refusal` under the limit its message names; a refusal naming
  // none (a bad token, a malformed request) is not counted here.
  void Count(const absl::Status& refusal);
  // (limit, count) for every known limit, in the list's order.
  std::vector<std::pair<std::string, uint64_t>> Snapshot() const;

 private:
  mutable Mutex mu_;
  absl::flat_hash_map<absl::string_view, uint64_t> counts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shmport::server

#endif  // SHMPORT_SERVER_LIMIT_REFUSALS_H_
