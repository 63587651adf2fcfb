// WorkerRing: StreamWorker processes registered with a real shmportd and
// joined in a ring of ports, for the soak and the fault tests. Worker i
// opens ports to its ports_per_worker / 2 successors, so each worker is the
// end of ports_per_worker ports. The ring knows which workers are alive,
// so it can say exactly what the daemon's registry must show.
#ifndef SHMPORT_TESTS_LOAD_WORKER_RING_H_
#define SHMPORT_TESTS_LOAD_WORKER_RING_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "shmport/v1/control.grpc.pb.h"
#include "tests/load/stream_worker.h"

namespace shmport::testing {

struct WorkerRingOptions {
  int workers = 4;
  // Port ends per worker; even, and below `workers`.
  int ports_per_worker = 2;
  // What each OpenPort asks for (zero fields: the daemon's default).
  v1::Geometry geometry;
  StreamOptions stream;
  // Workers are named "<name_prefix>-<i>".
  std::string name_prefix = "worker";
};

// Thread-safety: none; one thread drives the ring.
class WorkerRing {
 public:
  // Forks, registers and attaches every worker through `stub` (which must
  // outlive the ring), then opens the ring's ports and waits for their
  // handshakes.
  static absl::StatusOr<std::unique_ptr<WorkerRing>> Start(
      v1::ControlPlane::Stub* stub, const WorkerRingOptions& options);

  // SIGKILLs the workers still alive.
  ~WorkerRing() = default;
  WorkerRing(const WorkerRing&) = delete;
  WorkerRing& operator=(const WorkerRing&) = delete;

  int size() const { return static_cast<int>(slots_.size()); }
  bool alive(int i) const { return slots_[i].worker != nullptr; }
  StreamWorker& worker(int i) { return *slots_[i].worker; }
  uint64_t process_id(int i) const { return slots_[i].process_id; }
  std::string name(int i) const;
  // The workers worker i shares a port with.
  std::vector<int> Neighbours(int i) const;

  // Ends worker i: a graceful Finish (its peers get BYEs), or SIGKILL. The
  // latest report it gave (for a kill, the one just before it). The slot
  // is then dead until Respawn.
  absl::StatusOr<WorkerReport> End(int i, bool graceful);
  // A fresh worker for a dead slot, under the same name (waiting, bounded,
  // for the daemon to release it), with its ports to every live neighbour,
  // returning once their handshakes are done.
  absl::Status Respawn(int i);

  // OK when ListProcesses shows exactly the live workers, attached, and
  // ListPorts exactly the ring's ports between live workers; else what
  // differs. Other processes (names without the ring's prefix) and ports
  // between them are not the ring's business. Optionally returns the
  // counts of the ring's processes and ports that the registry lists.
  absl::Status CheckRegistry(int* processes = nullptr,
                             int* ports = nullptr) const;
  // CheckRegistry until it passes, for at most `timeout`.
  absl::Status AwaitRegistry(absl::Duration timeout) const;

  // Finishes every live worker; their final reports, by slot (dead slots
  // report nothing).
  absl::StatusOr<std::vector<WorkerReport>> FinishAll(absl::Duration timeout);

 private:
  struct Slot {
    std::unique_ptr<StreamWorker> worker;
    uint64_t process_id = 0;
    std::string token;
  };
  WorkerRing(v1::ControlPlane::Stub* stub, const WorkerRingOptions& options)
      : stub_(stub), options_(options), slots_(options.workers) {}
  absl::Status StartWorker(int i);
  absl::Status OpenPort(int from, int to);
  // Waits until worker i has `ports` ports open (handshakes done).
  absl::Status AwaitPortsOpen(int i, int ports);
  int Successor(int i, int k) const { return (i + k) % size(); }

  v1::ControlPlane::Stub* const stub_;
  const WorkerRingOptions options_;
  std::vector<Slot> slots_;
};

}  // namespace shmport::testing

#endif  // SHMPORT_TESTS_LOAD_WORKER_RING_H_
