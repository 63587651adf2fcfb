// Registry: the daemon's record of live processes and the ports between
// them. Pure bookkeeping: no I/O, no policy, no locking.
#ifndef SHMPORT_SERVER_REGISTRY_H_
#define SHMPORT_SERVER_REGISTRY_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/shared_event.h"
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
  // Of those, the ports another process (or an operator) opened to it.
  uint32_t incoming_ports = 0;
  // Its include_existing event, built on first use and dropped whenever
  // `info` changes, so that watchers subscribing meanwhile share one copy.
  mutable EventRef existing_event;
};

struct PortRecord {
  // info.a is the end that opened the port; stats are the ends' last
  // reports.
  v1::PortInfo info;
  // As ProcessRecord::existing_event.
  mutable EventRef existing_event;
};

// A name belongs to at most one ATTACHED process. Registering does not
// reserve it: any number of REGISTERED (unattached) processes may declare
// the same name, and the first to attach takes it (Attach). The daemon
// cannot tell who calls Register, so an unattached registration holds
// nothing another process could need.
//
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
  // when an attached process holds `name` (the message names its id).
  absl::StatusOr<ProcessRecord*> AddProcess(v1::ProcessInfo info,
                                            std::string token);
  // Moves a REGISTERED process to ATTACHED with the kernel's uid and gid,
  // binding its name. ALREADY_EXISTS when another attached process holds
  // the name; the process is then unchanged.
  absl::Status Attach(uint64_t id, uid_t uid, gid_t gid);

  // nullptr when unknown.
  ProcessRecord* FindProcess(uint64_t id);
  // The attached holder of `name`, else the newest unattached registration
  // of it, else nullptr.
  ProcessRecord* FindProcessByName(absl::string_view name);
  // Removes a process and every port it is an end of (which also leave the
  // peers' port sets). Returns the process and those ports, in port-id
  // order; nullopt when the id is unknown.
  struct Removed {
    ProcessRecord process;
    std::vector<PortRecord> ports;
  };
  std::optional<Removed> RemoveProcess(uint64_t id);

  // Adds a port from `a` to `b` (two known processes) under a fresh id,
  // or under `id` when it is not 0 (a port resumed after a daemon restart
  // keeps the id both ends know it by): nullptr when that id is in use.
  // Fresh ids then continue above it.
  PortRecord* AddPort(uint64_t a, uint64_t b, const v1::Geometry& geometry,
                      int64_t opened_at_unix_ms, uint64_t id = 0);
  PortRecord* FindPort(uint64_t id);
  // Removes the port and adds its ends' last reports to closed_ports().
  std::optional<PortRecord> RemovePort(uint64_t id);
  // Ports between `a` and `b`, whichever opened them.
  uint32_t PortsBetween(uint64_t a, uint64_t b) const;

  // Counts, for the limits.
  size_t attached_count() const { return ids_by_name_.size(); }
  size_t unattached_count() const { return unattached_.size(); }
  uint32_t attached_count_of_uid(uid_t uid) const;
  // The oldest unattached registration's id; 0 when there is none.
  uint64_t oldest_unattached() const;

  // Iteration in id order.
  const std::map<uint64_t, ProcessRecord>& processes() const {
    return processes_;
  }
  const std::map<uint64_t, PortRecord>& ports() const { return ports_; }
  // What every removed port carried, summed (the ports of exited processes
  // too): fixed size, however many ports come and go.
  const v1::ClosedPortTotals& closed_ports() const { return closed_ports_; }

 private:
  // Drops `port_id` from process `id`'s set, if both exist.
  void Unlink(uint64_t id, uint64_t port_id, bool incoming);
  static std::pair<uint64_t, uint64_t> Pair(uint64_t a, uint64_t b) {
    return a < b ? std::make_pair(a, b) : std::make_pair(b, a);
  }

  uint64_t next_process_id_ = 1;
  uint64_t next_port_id_ = 1;
  std::map<uint64_t, ProcessRecord> processes_;
  // Attached processes only: a name is bound at attach.
  absl::flat_hash_map<std::string, uint64_t> ids_by_name_;
  // Unattached registrations, oldest (lowest id) first.
  std::set<uint64_t> unattached_;
  absl::flat_hash_map<uid_t, uint32_t> attached_by_uid_;
  std::map<uint64_t, PortRecord> ports_;
  // Open ports per unordered pair of process ids.
  absl::flat_hash_map<std::pair<uint64_t, uint64_t>, uint32_t> pair_ports_;
  v1::ClosedPortTotals closed_ports_;
};

}  // namespace shmport::server

#endif  // SHMPORT_SERVER_REGISTRY_H_
