#include "tests/load/worker_ring.h"

#include <signal.h>

#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "tests/control/raw_client.h"
#include "tests/util/eventually.h"

namespace shmport::testing {
namespace {

constexpr absl::Duration kReplyTimeout = absl::Seconds(10);

}  // namespace

absl::StatusOr<std::unique_ptr<WorkerRing>> WorkerRing::Start(
    v1::ControlPlane::Stub* stub, const WorkerRingOptions& options) {
  if (options.ports_per_worker % 2 != 0 ||
      options.ports_per_worker >= options.workers) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ports_per_worker ", options.ports_per_worker,
        " must be even and below workers (", options.workers, ")"));
  }
  std::unique_ptr<WorkerRing> ring(new WorkerRing(stub, options));
  for (int i = 0; i < ring->size(); ++i) {
    if (absl::Status s = ring->StartWorker(i); !s.ok()) return s;
  }
  for (int i = 0; i < ring->size(); ++i) {
    for (int k = 1; k <= options.ports_per_worker / 2; ++k) {
      if (absl::Status s = ring->OpenPort(i, ring->Successor(i, k)); !s.ok()) {
        return s;
      }
    }
  }
  for (int i = 0; i < ring->size(); ++i) {
    if (absl::Status s = ring->AwaitPortsOpen(i, options.ports_per_worker);
        !s.ok()) {
      return s;
    }
  }
  return ring;
}

std::string WorkerRing::name(int i) const {
  return absl::StrCat(options_.name_prefix, "-", i);
}

std::vector<int> WorkerRing::Neighbours(int i) const {
  std::vector<int> out;
  for (int k = 1; k <= options_.ports_per_worker / 2; ++k) {
    out.push_back(Successor(i, k));
    out.push_back((i - k + size()) % size());
  }
  return out;
}

absl::Status WorkerRing::StartWorker(int i) {
  Slot& s = slots_[i];
  absl::StatusOr<std::unique_ptr<StreamWorker>> worker =
      StreamWorker::Fork(options_.stream);
  if (!worker.ok()) return worker.status();
  v1::RegisterRequest request;
  request.set_name(name(i));
  request.set_pid((*worker)->pid());
  v1::RegisterResponse response;
  // The daemon frees the name of an ended holder when its link closes or
  // its pidfd fires: retry ALREADY_EXISTS for a bounded while.
  grpc::Status status;
  Eventually([&] {
    status = stub_->Register(Context().get(), request, &response);
    return status.error_code() != grpc::StatusCode::ALREADY_EXISTS;
  });
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat("Register ", name(i), ": ", Describe(status)));
  }
  if (absl::Status st =
          (*worker)->Attach(response.broker_address(), response.process_id(),
                            response.session_token(), kReplyTimeout);
      !st.ok()) {
    return absl::Status(st.code(),
                        absl::StrCat("attach ", name(i), ": ", st.message()));
  }
  s.worker = *std::move(worker);
  s.process_id = response.process_id();
  s.token = response.session_token();
  return absl::OkStatus();
}

absl::Status WorkerRing::OpenPort(int from, int to) {
  v1::OpenPortRequest request;
  request.mutable_from()->set_id(slots_[from].process_id);
  request.mutable_to()->set_id(slots_[to].process_id);
  request.set_session_token(slots_[from].token);
  *request.mutable_geometry() = options_.geometry;
  v1::OpenPortResponse response;
  const grpc::Status status =
      stub_->OpenPort(Context().get(), request, &response);
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat("OpenPort ", name(from), " -> ",
                                            name(to), ": ", Describe(status)));
  }
  return absl::OkStatus();
}

absl::StatusOr<WorkerReport> WorkerRing::End(int i, bool graceful) {
  Slot& s = slots_[i];
  if (s.worker == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(name(i), " is dead"));
  }
  absl::StatusOr<WorkerReport> last = s.worker->Report(kReplyTimeout);
  if (graceful) {
    last = s.worker->Finish(kReplyTimeout);
  } else {
    s.worker->Kill(SIGKILL);
    const std::string end = s.worker->Wait(kReplyTimeout);
    if (end != "signal 9" && last.ok()) {
      last = absl::InternalError(
          absl::StrCat(name(i), " ended with ", end, ", not SIGKILL"));
    }
  }
  s.worker.reset();
  s.process_id = 0;
  s.token.clear();
  if (!last.ok()) {
    return absl::Status(last.status().code(),
                        absl::StrCat(name(i), ": ", last.status().message()));
  }
  return last;
}

absl::Status WorkerRing::Respawn(int i) {
  if (alive(i)) {
    return absl::FailedPreconditionError(absl::StrCat(name(i), " is alive"));
  }
  if (absl::Status s = StartWorker(i); !s.ok()) return s;
  int opened = 0;
  for (int k = 1; k <= options_.ports_per_worker / 2; ++k) {
    const int next = Successor(i, k);
    if (alive(next)) {
      if (absl::Status s = OpenPort(i, next); !s.ok()) return s;
      ++opened;
    }
    const int previous = (i - k + size()) % size();
    if (alive(previous)) {
      if (absl::Status s = OpenPort(previous, i); !s.ok()) return s;
      ++opened;
    }
  }
  return AwaitPortsOpen(i, opened);
}

absl::Status WorkerRing::AwaitPortsOpen(int i, int ports) {
  // The handshakes run in the workers' port threads, after OpenPort
  // returned; a fault injected before they finish would fail them.
  absl::StatusOr<WorkerReport> r;
  const bool open = Eventually(
      [&] {
        r = slots_[i].worker->Report(kReplyTimeout);
        return !r.ok() || r->ports_open >= static_cast<uint64_t>(ports);
      },
      kReplyTimeout, absl::Milliseconds(2));
  if (!r.ok()) return r.status();
  if (open) return absl::OkStatus();
  return absl::DeadlineExceededError(absl::StrCat(
      name(i), " has ", r->ports_open, " of its ", ports, " ports open (",
      r->port_open_failures, " handshakes failed)"));
}

absl::Status WorkerRing::CheckRegistry(int* processes, int* ports) const {
  v1::ListProcessesResponse listed;
  grpc::Status status = stub_->ListProcesses(Context().get(), {}, &listed);
  if (!status.ok()) {
    return absl::UnavailableError(
        absl::StrCat("ListProcesses: ", Describe(status)));
  }
  std::set<uint64_t> live;
  for (const Slot& s : slots_) {
    if (s.worker != nullptr) live.insert(s.process_id);
  }
  std::vector<std::string> problems;
  std::set<uint64_t> seen;
  const std::string prefix = options_.name_prefix + "-";
  for (const v1::ProcessInfo& p : listed.processes()) {
    if (!absl::StartsWith(p.name(), prefix)) continue;  // not the ring's
    seen.insert(p.id());
    if (!live.contains(p.id())) {
      problems.push_back(absl::StrCat("lists process ", p.id(), " '", p.name(),
                                      "' (pid ", p.pid(), "), which ended"));
    } else if (p.state() != v1::PROCESS_STATE_ATTACHED) {
      problems.push_back(absl::StrCat("process ", p.name(), " not attached"));
    }
  }
  if (processes != nullptr) *processes = static_cast<int>(seen.size());
  for (uint64_t id : live) {
    if (!seen.contains(id)) {
      problems.push_back(absl::StrCat("lost live process ", id));
    }
  }
  v1::ListPortsResponse port_list;
  status = stub_->ListPorts(Context().get(), {}, &port_list);
  if (!status.ok()) {
    return absl::UnavailableError(
        absl::StrCat("ListPorts: ", Describe(status)));
  }
  std::multiset<std::pair<uint64_t, uint64_t>> expected;
  for (int i = 0; i < size(); ++i) {
    for (int k = 1; k <= options_.ports_per_worker / 2; ++k) {
      const int j = Successor(i, k);
      if (alive(i) && alive(j)) {
        expected.insert({slots_[i].process_id, slots_[j].process_id});
      }
    }
  }
  // Every port with a ring worker (live or not) at either end.
  std::set<uint64_t> ours = seen;
  ours.insert(live.begin(), live.end());
  std::multiset<std::pair<uint64_t, uint64_t>> actual;
  for (const v1::PortInfo& p : port_list.ports()) {
    if (ours.contains(p.a().process_id()) ||
        ours.contains(p.b().process_id())) {
      actual.insert({p.a().process_id(), p.b().process_id()});
    }
  }
  for (const auto& [a, b] : actual) {
    if (!expected.contains({a, b})) {
      problems.push_back(absl::StrCat("lists port ", a, "->", b));
    }
  }
  for (const auto& [a, b] : expected) {
    if (!actual.contains({a, b})) {
      problems.push_back(absl::StrCat("lacks port ", a, "->", b));
    }
  }
  if (ports != nullptr) *ports = static_cast<int>(actual.size());
  if (actual.size() != expected.size()) {
    problems.push_back(absl::StrCat(actual.size(), " ports listed, ",
                                    expected.size(), " live"));
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("the registry differs from the live workers: ",
                   absl::StrJoin(problems, "; ")));
}

absl::Status WorkerRing::AwaitRegistry(absl::Duration timeout) const {
  absl::Status s;
  Eventually(
      [&] {
        s = CheckRegistry();
        return s.ok();
      },
      timeout, absl::Milliseconds(10));
  return s;
}

absl::StatusOr<std::vector<WorkerReport>> WorkerRing::FinishAll(
    absl::Duration timeout) {
  std::vector<WorkerReport> reports(slots_.size());
  absl::Status first_error;
  for (int i = 0; i < size(); ++i) {
    Slot& s = slots_[i];
    if (s.worker == nullptr) continue;
    absl::StatusOr<WorkerReport> r = s.worker->Finish(timeout);
    if (r.ok()) {
      reports[i] = *r;
    } else if (first_error.ok()) {
      first_error = absl::Status(
          r.status().code(), absl::StrCat(name(i), ": ", r.status().message()));
    }
    s.worker.reset();
    s.process_id = 0;
  }
  if (!first_error.ok()) return first_error;
  return reports;
}

}  // namespace shmport::testing
