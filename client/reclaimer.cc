#include "client/reclaimer.h"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/time/clock.h"

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
    ::pthread_atfork([] { TheReclaimer().mu_.lock(); },
                     [] { TheReclaimer().mu_.unlock(); },
                     [] {
                       Reclaimer& r = TheReclaimer();
                       r.ports_.clear();
                       r.in_flight_ = nullptr;
                       r.running_pid_ = 0;
                       r.mu_.unlock();
                     });
  }

  void Register(std::weak_ptr<Reclaimable> port) {
    std::shared_ptr<Reclaimable> strong = port.lock();
    if (!strong) return;
    const absl::Duration period =
        std::clamp(strong->reclaim_period(), kMinPeriod, kMaxPeriod);
    std::lock_guard<std::mutex> lock(mu_);
    ports_.push_back({strong.get(), std::move(port), period});
    if (running_pid_ != ::getpid()) {
      // Not running here (never started, ended, or started by the parent
      // before a fork): start it. Detached, so that process exit never
      // waits for (or terminates on) it.
      running_pid_ = ::getpid();
      std::thread([this] { Run(); }).detach();
    }
    wake_.notify_all();  // the period may have become shorter
  }

  void Unregister(const Reclaimable* port) {
    std::unique_lock<std::mutex> lock(mu_);
    std::erase_if(ports_, [&](const Entry& e) { return e.port == port; });
    done_.wait(lock, [&] { return in_flight_ != port; });
  }

 private:
  struct Entry {
    const Reclaimable* port;  // the key for Unregister
    std::weak_ptr<Reclaimable> weak;
    absl::Duration period;
  };

  // One round over the registered ports, mu_ held on entry and exit. The
  // reference to each port is held only during its Reclaim, and
  // Unregister waits for that one to end.
  void Round(std::unique_lock<std::mutex>& lock) {
    const absl::Time now = absl::Now();
    for (size_t i = 0; i < ports_.size(); ++i) {
      std::shared_ptr<Reclaimable> port = ports_[i].weak.lock();
      if (!port) continue;
      in_flight_ = port.get();
      lock.unlock();
      port->Reclaim(now);
      port.reset();
      lock.lock();
      in_flight_ = nullptr;
      done_.notify_all();
    }
  }

  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      std::erase_if(ports_, [](const Entry& e) { return e.weak.expired(); });
      if (ports_.empty()) {
        running_pid_ = 0;  // the next Register starts a new thread
        return;
      }
      Round(lock);
      absl::Duration period = kMaxPeriod;
      for (const Entry& e : ports_) period = std::min(period, e.period);
      wake_.wait_for(lock, absl::ToChronoNanoseconds(period));
    }
  }

  // Guards everything below. Never held while a port is reclaimed.
  std::mutex mu_;
  std::condition_variable wake_;  // a registration
  std::condition_variable done_;  // in_flight_ changed
  std::vector<Entry> ports_;
  const Reclaimable* in_flight_ = nullptr;  // being reclaimed now
  pid_t running_pid_ = 0;  // the process whose thread runs, 0: none
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
