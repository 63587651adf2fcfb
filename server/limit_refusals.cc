#include "server/limit_refusals.h"

#include "absl/strings/ascii.h"

namespace shmport::server {
namespace {

// The config fields a refusal may name (server/config.proto), matched as
// whole names (limits.max_processes does not match
// limits.max_processes_per_uid).
constexpr absl::string_view kLimits[] = {
    "connections.max_control_connections_per_uid",
    "connections.max_control_connections",
    "connections.max_pending_broker_connections_per_uid",
    "connections.max_pending_broker_connections",
    "connections.broker_pending_timeout_ms",
    "limits.max_processes_per_uid",
    "limits.max_processes",
    "limits.max_unattached_registrations",
    "limits.registrations_per_second",
    "limits.max_ports_per_process",
    "limits.max_incoming_ports_per_process",
    "limits.max_ports_per_pair",
    "limits.max_ports",
    "limits.max_bytes_per_port",
    "limits.max_watchers_per_uid",
    "limits.max_watchers",
    "limits.max_topics",
    "limits.max_subscribers_per_topic",
    "limits.max_subscriptions_per_process",
    "limits.max_publications_per_process",
    "limits.max_topic_history",
    "limits.max_topic_queue_depth",
    "limits.max_bytes_per_topic",
    "watcher_queue_limit",
    "watcher_queue_bytes",
};

bool IsNameChar(char c) { return absl::ascii_isalnum(c) || c == '_'; }

// `name` occurs in `message` as a whole field name.
bool Names(absl::string_view message, absl::string_view name) {
  for (size_t at = message.find(name); at != absl::string_view::npos;
       at = message.find(name, at + 1)) {
    const size_t end = at + name.size();
    const bool starts = at == 0 || !IsNameChar(message[at - 1]);
    const bool ends = end == message.size() || !IsNameChar(message[end]);
    if (starts && ends) return true;
  }
  return false;
}

}  // namespace

absl::string_view LimitNamedIn(absl::string_view message) {
  for (absl::string_view limit : kLimits) {
    if (Names(message, limit)) return limit;
  }
  return {};
}

LimitRefusals::LimitRefusals() {
  MutexLock lock(&mu_);
  for (absl::string_view limit : kLimits) counts_[limit] = 0;
}

void LimitRefusals::Count(const absl::Status& refusal) {
  if (refusal.ok()) return;
  const absl::string_view limit = LimitNamedIn(refusal.message());
  if (limit.empty()) return;
  MutexLock lock(&mu_);
  ++counts_[limit];
}

std::vector<std::pair<std::string, uint64_t>> LimitRefusals::Snapshot() const {
  MutexLock lock(&mu_);
  std::vector<std::pair<std::string, uint64_t>> out;
  out.reserve(std::size(kLimits));
  for (absl::string_view limit : kLimits) {
    out.emplace_back(std::string(limit), counts_.at(limit));
  }
  return out;
}

}  // namespace shmport::server
