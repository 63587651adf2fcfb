// Registry: the daemon's record of live processes and the ports between
// them. Pure bookkeeping: no I/O, no policy, no locking.
#ifndef SHMPORT_SERVER_REGISTRY_H_
#define SHMPORT_SERVER_REGISTRY_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "shmport/v1/control.pb.h"

namespace shmport::server {

struct ProcessRecord {
  // What ListProcesses shows; info.id() is the key, info.port_count() is
  // kept equal to ports.size().
  v1::ProcessInfo info;
  // The session token (a secret: never shown).
  std::string token;
  // Ids of the ports this process is an end of.
  std::set<uint64_t> ports;
};

struct PortRecord {
  // info.a is the end that opened the port; stats are the ends' last
  // reports.
  v1::PortInfo info;
  // The ends that reported their Port closed; both: the port is gone.
  bool a_closed = false;
  bool b_closed = false;
};

// Ids are never reused: both counters only grow, so a stale id in a client
// or a log line can never name a newer process or port.
//
// Thread-safety: none; the Switchboard serialises all access.
class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Adds a process in state REGISTERED under a fresh id. ALREADY_EXISTS
  // when a live process holds `name` (the message names its id).
  absl::StatusOr<ProcessRecord*> AddProcess(v1::ProcessInfo info,
                                            std::string token);
  // nullptr when unknown.
  ProcessRecord* FindProcess(uint64_t id);
  ProcessRecord* FindProcessByName(absl::string_view name);
  // Removes a process and every port it is an end of (which also leave the
  // peers' port sets). Returns the process and those ports, in port-id
  // order; nullopt when the id is unknown.
  struct Removed {
    ProcessRecord process;
    std::vector<PortRecord> ports;
  };
  std::optional<Removed> RemoveProcess(uint64_t id);

  // Adds a port between two known processes under a fresh id.
  PortRecord* AddPort(uint64_t a, uint64_t b, const v1::Geometry& geometry,
                      int64_t opened_at_unix_ms);
  PortRecord* FindPort(uint64_t id);
  std::optional<PortRecord> RemovePort(uint64_t id);

  // Iteration in id order.
  const std::map<uint64_t, ProcessRecord>& processes() const {
    return processes_;
  }
  const std::map<uint64_t, PortRecord>& ports() const { return ports_; }

 private:
  // Drops `port_id` from process `id`'s set, if both exist.
  void Unlink(uint64_t id, uint64_t port_id);

  uint64_t next_process_id_ = 1;
  uint64_t next_port_id_ = 1;
  std::map<uint64_t, ProcessRecord> processes_;
  absl::flat_hash_map<std::string, uint64_t> ids_by_name_;
  std::map<uint64_t, PortRecord> ports_;
};

}  // namespace shmport::server

#endif  // SHMPORT_SERVER_REGISTRY_H_
