#include "client/reclaimer.h"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/clock.h"
#include "common/mutex.h"

namespace shmport::internal {
namespace {

// Bounds on the wake-up period, whatever the ports ask for.
constexpr absl::Duration kMinPeriod = absl::Milliseconds(10);
constexpr absl::Duration kMaxPeriod = absl::Milliseconds(250);

class Reclaimer;
Reclaimer& TheReclaimer();

class Reclaimer {
 public:
  Reclaimer() {
    // A fork while the thread holds mu_ would leave the child's copy
    // locked forever; and the ports the child inherits are its parent's
    // (their sockets too): the child must not reclaim for them.
    ::pthread_atfork(&BeforeFork, &AfterForkInParent, &AfterForkInChild);
  }

  void Register(std::weak_ptr<Reclaimable> port) ABSL_LOCKS_EXCLUDED(mu_) {
    std::shared_ptr<Reclaimable> strong = port.lock();
    if (!strong) return;
    const absl::Duration period =
        std::clamp(strong->reclaim_period(), kMinPeriod, kMaxPeriod);
    MutexLock lock(&mu_);
    ports_.push_back({strong.get(), std::move(port), period});
    if (running_pid_ != ::getpid()) {
      // Not running here (never started, ended, or started by the parent
      // before a fork): start it. Detached, so that process exit never
      // waits for (or terminates on) it.
      running_pid_ = ::getpid();
      std::thread([this] { Run(); }).detach();
    }
    wake_.SignalAll();  // the period may have become shorter
  }

  void Unregister(const Reclaimable* port) ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    std::erase_if(ports_, [&](const Entry& e) { return e.port == port; });
    while (in_flight_ == port) done_.Wait(&lock);
  }

 private:
  struct Entry {
    const Reclaimable* port;  // the key for Unregister
    std::weak_ptr<Reclaimable> weak;
    absl::Duration period;
  };

  // The fork handlers (see the constructor). The analysis cannot follow a
  // lock taken in one function and released in another.
  static void BeforeFork() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    TheReclaimer().mu_.Lock();
  }
  static void AfterForkInParent() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    TheReclaimer().mu_.Unlock();
  }
  static void AfterForkInChild() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    Reclaimer& r = TheReclaimer();
    r.ports_.clear();
    r.in_flight_ = nullptr;
    r.running_pid_ = 0;
    r.mu_.Unlock();
  }

  // One round over the registered ports, mu_ held on entry and exit (and
  // dropped around each Reclaim). The reference to each port is held only
  // during its Reclaim, and Unregister waits for that one to end.
  void Round() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const absl::Time now = absl::Now();
    for (size_t i = 0; i < ports_.size(); ++i) {
      std::shared_ptr<Reclaimable> port = ports_[i].weak.lock();
      if (!port) continue;
      in_flight_ = port.get();
      mu_.Unlock();
      port->Reclaim(now);
      port.reset();
      mu_.Lock();
      in_flight_ = nullptr;
      done_.SignalAll();
    }
  }

  void Run() ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    while (true) {
      std::erase_if(ports_, [](const Entry& e) { return e.weak.expired(); });
      if (ports_.empty()) {
        running_pid_ = 0;  // the next Register starts a new thread
        return;
      }
      Round();
      absl::Duration period = kMaxPeriod;
      for (const Entry& e : ports_) period = std::min(period, e.period);
      wake_.WaitFor(&lock, absl::ToChronoNanoseconds(period));
    }
  }

  // Guards everything below. Lock order (docs/architecture.md, "Locks"): a
  // leaf, never held while a port is reclaimed (Reclaim takes the port's
  // locks).
  Mutex mu_;
  CondVar wake_;  // a registration
  CondVar done_;  // in_flight_ changed
  std::vector<Entry> ports_ ABSL_GUARDED_BY(mu_);
  // Being reclaimed now.
  const Reclaimable* in_flight_ ABSL_GUARDED_BY(mu_) = nullptr;
  // The process whose thread runs, 0: none.
  pid_t running_pid_ ABSL_GUARDED_BY(mu_) = 0;
};

Reclaimer& TheReclaimer() {
  // Never destroyed: the detached thread may still use it during exit.
  static Reclaimer* reclaimer = new Reclaimer;
  return *reclaimer;
}

}  // namespace

void RegisterForReclaim(std::weak_ptr<Reclaimable> port) {
  TheReclaimer().Register(std::move(port));
}

void UnregisterFromReclaim(const Reclaimable* port) {
  TheReclaimer().Unregister(port);
}

}  // namespace shmport::internal
