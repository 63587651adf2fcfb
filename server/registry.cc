#include "server/registry.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace shmport::server {
namespace {

absl::Status NameTaken(absl::string_view name, uint64_t holder) {
  return absl::AlreadyExistsError(
      absl::StrCat("name '", name, "' is taken by process ", holder,
                   "; names are unique among attached processes"));
}

void AddEnd(const v1::PortEndStats& end, v1::ClosedPortTotals* totals) {
  totals->set_messages_sent(totals->messages_sent() + end.messages_sent());
  totals->set_bytes_sent(totals->bytes_sent() + end.bytes_sent());
  totals->set_messages_received(totals->messages_received() +
                                end.messages_received());
  totals->set_bytes_received(totals->bytes_received() + end.bytes_received());
  totals->set_oosm_waits(totals->oosm_waits() + end.oosm_waits());
  totals->set_protocol_errors(totals->protocol_errors() +
                              end.protocol_errors());
}

}  // namespace

absl::StatusOr<ProcessRecord*> Registry::AddProcess(v1::ProcessInfo info,
                                                    std::string token) {
  if (auto taken = ids_by_name_.find(info.name());
      taken != ids_by_name_.end()) {
    return NameTaken(info.name(), taken->second);
  }
  const uint64_t id = next_process_id_++;
  info.set_id(id);
  info.set_port_count(0);
  info.set_state(v1::PROCESS_STATE_REGISTERED);
  unattached_.insert(id);
  ProcessRecord& record = processes_[id];
  record.info = std::move(info);
  record.token = std::move(token);
  return &record;
}

absl::Status Registry::Attach(uint64_t id, uid_t uid, gid_t gid) {
  ProcessRecord* p = FindProcess(id);
  if (p == nullptr || p->info.state() != v1::PROCESS_STATE_REGISTERED) {
    return absl::FailedPreconditionError(
        absl::StrCat("process ", id, " is not an unattached registration"));
  }
  auto [it, bound] = ids_by_name_.emplace(p->info.name(), id);
  if (!bound) return NameTaken(p->info.name(), it->second);
  unattached_.erase(id);
  ++attached_by_uid_[uid];
  p->existing_event.reset();
  p->info.set_state(v1::PROCESS_STATE_ATTACHED);
  p->info.set_uid(uid);
  p->info.set_gid(gid);
  return absl::OkStatus();
}

ProcessRecord* Registry::FindProcess(uint64_t id) {
  auto it = processes_.find(id);
  return it == processes_.end() ? nullptr : &it->second;
}

ProcessRecord* Registry::FindProcessByName(absl::string_view name) {
  if (auto it = ids_by_name_.find(name); it != ids_by_name_.end()) {
    return FindProcess(it->second);
  }
  // Only for messages and for an opener waiting for its peer to attach;
  // unattached registrations are few (limits.max_unattached_registrations).
  for (auto it = unattached_.rbegin(); it != unattached_.rend(); ++it) {
    ProcessRecord* p = FindProcess(*it);
    if (p != nullptr && p->info.name() == name) return p;
  }
  return nullptr;
}

std::optional<Registry::Removed> Registry::RemoveProcess(uint64_t id) {
  auto it = processes_.find(id);
  if (it == processes_.end()) return std::nullopt;
  Removed removed;
  const std::set<uint64_t> port_ids = it->second.ports;
  for (uint64_t port_id : port_ids) {
    if (std::optional<PortRecord> port = RemovePort(port_id)) {
      removed.ports.push_back(std::move(*port));
    }
  }
  removed.process = std::move(it->second);
  processes_.erase(it);
  const v1::ProcessInfo& info = removed.process.info;
  if (info.state() == v1::PROCESS_STATE_ATTACHED) {
    ids_by_name_.erase(info.name());
    if (auto count = attached_by_uid_.find(info.uid());
        count != attached_by_uid_.end() && --count->second == 0) {
      attached_by_uid_.erase(count);
    }
  } else {
    unattached_.erase(id);
  }
  return removed;
}

PortRecord* Registry::AddPort(uint64_t a, uint64_t b,
                              const v1::Geometry& geometry,
                              int64_t opened_at_unix_ms, uint64_t id) {
  ProcessRecord* pa = FindProcess(a);
  ProcessRecord* pb = FindProcess(b);
  if (pa == nullptr || pb == nullptr) return nullptr;
  if (id == 0) {
    // An id a resumed port kept is skipped, never overwritten; the counter
    // itself only moves by one, so no declared id (a client's number, up
    // to 2^64 - 1) can make it wrap onto the ports that exist.
    while (ports_.contains(next_port_id_)) ++next_port_id_;
    id = next_port_id_++;
  } else if (ports_.contains(id)) {
    return nullptr;
  }
  PortRecord& port = ports_[id];
  port.info.set_id(id);
  port.info.mutable_a()->set_process_id(a);
  port.info.mutable_a()->set_name(pa->info.name());
  port.info.mutable_b()->set_process_id(b);
  port.info.mutable_b()->set_name(pb->info.name());
  *port.info.mutable_geometry() = geometry;
  port.info.set_opened_at_unix_ms(opened_at_unix_ms);
  for (ProcessRecord* p : {pa, pb}) {
    p->ports.insert(id);
    p->info.set_port_count(p->ports.size());
    p->existing_event.reset();
  }
  ++pb->incoming_ports;
  ++pair_ports_[Pair(a, b)];
  return &port;
}

PortRecord* Registry::FindPort(uint64_t id) {
  auto it = ports_.find(id);
  return it == ports_.end() ? nullptr : &it->second;
}

std::optional<PortRecord> Registry::RemovePort(uint64_t id) {
  auto it = ports_.find(id);
  if (it == ports_.end()) return std::nullopt;
  PortRecord port = std::move(it->second);
  ports_.erase(it);
  closed_ports_.set_ports(closed_ports_.ports() + 1);
  AddEnd(port.info.a().stats(), &closed_ports_);
  AddEnd(port.info.b().stats(), &closed_ports_);
  const uint64_t a = port.info.a().process_id();
  const uint64_t b = port.info.b().process_id();
  Unlink(a, id, /*incoming=*/false);
  Unlink(b, id, /*incoming=*/true);
  if (auto pair = pair_ports_.find(Pair(a, b));
      pair != pair_ports_.end() && --pair->second == 0) {
    pair_ports_.erase(pair);
  }
  return port;
}

uint32_t Registry::PortsBetween(uint64_t a, uint64_t b) const {
  auto it = pair_ports_.find(Pair(a, b));
  return it == pair_ports_.end() ? 0 : it->second;
}

uint32_t Registry::attached_count_of_uid(uid_t uid) const {
  auto it = attached_by_uid_.find(uid);
  return it == attached_by_uid_.end() ? 0 : it->second;
}

uint64_t Registry::oldest_unattached() const {
  return unattached_.empty() ? 0 : *unattached_.begin();
}

void Registry::Unlink(uint64_t id, uint64_t port_id, bool incoming) {
  if (ProcessRecord* p = FindProcess(id)) {
    if (p->ports.erase(port_id) > 0 && incoming) --p->incoming_ports;
    p->info.set_port_count(p->ports.size());
    p->existing_event.reset();
  }
}

}  // namespace shmport::server
