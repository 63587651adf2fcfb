#include "server/registry.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace shmport::server {

absl::StatusOr<ProcessRecord*> Registry::AddProcess(v1::ProcessInfo info,
                                                    std::string token) {
  auto taken = ids_by_name_.find(info.name());
  if (taken != ids_by_name_.end()) {
    return absl::AlreadyExistsError(
        absl::StrCat("name '", info.name(), "' is taken by process ",
                     taken->second, "; names are unique among live processes"));
  }
  const uint64_t id = next_process_id_++;
  info.set_id(id);
  info.set_port_count(0);
  ids_by_name_.emplace(info.name(), id);
  ProcessRecord& record = processes_[id];
  record.info = std::move(info);
  record.token = std::move(token);
  return &record;
}

ProcessRecord* Registry::FindProcess(uint64_t id) {
  auto it = processes_.find(id);
  return it == processes_.end() ? nullptr : &it->second;
}

ProcessRecord* Registry::FindProcessByName(absl::string_view name) {
  auto it = ids_by_name_.find(name);
  return it == ids_by_name_.end() ? nullptr : FindProcess(it->second);
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
  ids_by_name_.erase(removed.process.info.name());
  processes_.erase(it);
  return removed;
}

PortRecord* Registry::AddPort(uint64_t a, uint64_t b,
                              const v1::Geometry& geometry,
                              int64_t opened_at_unix_ms) {
  ProcessRecord* pa = FindProcess(a);
  ProcessRecord* pb = FindProcess(b);
  if (pa == nullptr || pb == nullptr) return nullptr;
  const uint64_t id = next_port_id_++;
  PortRecord& port = ports_[id];
  port.info.set_id(id);
  port.info.mutable_a()->set_process_id(a);
  port.info.mutable_a()->set_name(pa->info.name());
  port.info.mutable_b()->set_process_id(b);
  port.info.mutable_b()->set_name(pb->info.name());
  *port.info.mutable_geometry() = geometry;
  port.info.set_opened_at_unix_ms(opened_at_unix_ms);
  pa->ports.insert(id);
  pa->info.set_port_count(pa->ports.size());
  pb->ports.insert(id);
  pb->info.set_port_count(pb->ports.size());
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
  Unlink(port.info.a().process_id(), id);
  Unlink(port.info.b().process_id(), id);
  return port;
}

void Registry::Unlink(uint64_t id, uint64_t port_id) {
  if (ProcessRecord* p = FindProcess(id)) {
    p->ports.erase(port_id);
    p->info.set_port_count(p->ports.size());
  }
}

}  // namespace shmport::server
