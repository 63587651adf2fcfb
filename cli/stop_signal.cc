#include "cli/stop_signal.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <utility>

namespace shmport::cli {
namespace {

sigset_t StopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

StopSignal::StopSignal() {
  const sigset_t set = StopSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal_fd_ = UniqueFd(::signalfd(-1, &set, SFD_CLOEXEC));
  wake_fd_ = UniqueFd(::eventfd(0, EFD_CLOEXEC));
  thread_ = std::thread([this] { Run(); });
}

StopSignal::~StopSignal() {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_.get(), &one, sizeof(one));
  thread_.join();
  const sigset_t set = StopSignals();
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

void StopSignal::SetStopAction(std::function<void()> action) {
  MutexLock lock(&mu_);
  action_ = std::move(action);
}

bool StopSignal::WaitFor(absl::Duration timeout) {
  MutexLock lock(&mu_);
  const auto until =
      std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);
  while (!stopped_) {
    if (!stop_cv_.WaitUntil(&lock, until)) return stopped_;
  }
  return true;
}

bool StopSignal::stopped() const {
  MutexLock lock(&mu_);
  return stopped_;
}

void StopSignal::Run() {
  if (!signal_fd_.valid() || !wake_fd_.valid()) return;
  for (;;) {
    pollfd fds[2] = {{signal_fd_.get(), POLLIN, 0},
                     {wake_fd_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    signalfd_siginfo info;
    if (::read(signal_fd_.get(), &info, sizeof(info)) != sizeof(info)) {
      continue;
    }
    {
      MutexLock lock(&mu_);
      if (!action_) {
        // Nobody asked for a clean stop: behave like the default action.
        ::_exit(128 + static_cast<int>(info.ssi_signo));
      }
      stopped_ = true;
      // Under the lock, so that once SetStopAction returns the previous
      // action (and whatever it points to) is never called again.
      action_();
    }
    stop_cv_.SignalAll();
  }
}

}  // namespace shmport::cli
