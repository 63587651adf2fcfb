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

class Reclaimer;
Reclaimer& TheReclaimer();

// Bounds on the wake-up period, whatever the ports ask for.
constexpr absl::Duration kMinPeriod = absl::Milliseconds(10);
constexpr absl::Duration kMaxPeriod = absl::Milliseconds(250);

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
                       r.running_pid_ = 0;
                       r.mu_.unlock();
                     });
  }

  void Register(std::weak_ptr<Reclaimable> port) {
    std::lock_guard<std::mutex> lock(mu_);
    ports_.push_back(std::move(port));
    if (running_pid_ != ::getpid()) {
      // Not running here (never started, ended, or started by the parent
      // before a fork): start it. Detached, so that process exit never
      // waits for (or terminates on) it.
      running_pid_ = ::getpid();
      std::thread([this] { Run(); }).detach();
    }
    cv_.notify_one();
  }

 private:
  // The live ports and the shortest period among them; drops dead ones.
  std::vector<std::shared_ptr<Reclaimable>> Live(absl::Duration* period) {
    std::vector<std::shared_ptr<Reclaimable>> live;
    *period = kMaxPeriod;
    auto dead = std::remove_if(ports_.begin(), ports_.end(), [&](auto& weak) {
      std::shared_ptr<Reclaimable> port = weak.lock();
      if (!port) return true;
      *period = std::min(*period, port->reclaim_period());
      live.push_back(std::move(port));
      return false;
    });
    ports_.erase(dead, ports_.end());
    *period = std::max(*period, kMinPeriod);
    return live;
  }

  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      absl::Duration period;
      std::vector<std::shared_ptr<Reclaimable>> live = Live(&period);
      if (live.empty()) {
        running_pid_ = 0;  // the next Register starts a new thread
        return;
      }
      lock.unlock();
      const absl::Time now = absl::Now();
      for (auto& port : live) port->Reclaim(now);
      live.clear();  // a port may die here, on this thread: not under mu_
      lock.lock();
      cv_.wait_for(lock, absl::ToChronoNanoseconds(period));
    }
  }

  std::mutex mu_;  // guards ports_ and running_pid_
  std::condition_variable cv_;
  std::vector<std::weak_ptr<Reclaimable>> ports_;
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

}  // namespace shmport::internal
