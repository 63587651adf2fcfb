// A std::mutex the compiler can reason about.
//
// `Mutex`, `MutexLock` and `CondVar` are thin wrappers over std::mutex,
// std::unique_lock and std::condition_variable carrying Clang's thread-safety
// attributes, so that `ABSL_GUARDED_BY(mu_)` on data and
// `ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_)` on methods are checked by
// `-Wthread-safety` (tools/thread_safety_check.sh). They stay pthread
// mutexes underneath, which ThreadSanitizer intercepts (decisions D2, D23);
// GCC ignores the attributes and compiles them to the standard types.
#ifndef SHMPORT_COMMON_MUTEX_H_
#define SHMPORT_COMMON_MUTEX_H_

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "absl/base/thread_annotations.h"

namespace shmport {

class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }
  bool TryLock() ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(true) {
    return mu_.try_lock();
  }
  // Tells the analysis that the caller holds the lock where it cannot see it
  // (a callback invoked under the lock). Checks nothing at run time.
  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() {}

 private:
  friend class MutexLock;
  std::mutex mu_;
};

// Holds `mu` for its scope. `Unlock()`/`Lock()` drop and retake it inside
// the scope (for a callback that must run unlocked); the destructor releases
// it only if held.
class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu)
      : lock_(mu->mu_) {}
  ~MutexLock() ABSL_UNLOCK_FUNCTION() = default;
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void Unlock() ABSL_UNLOCK_FUNCTION() { lock_.unlock(); }
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { lock_.lock(); }

 private:
  friend class CondVar;
  std::unique_lock<std::mutex> lock_;
};

// A condition variable waited on with a MutexLock. Waits may wake
// spuriously: callers loop on their predicate.
class CondVar {
 public:
  void Wait(MutexLock* lock) { cv_.wait(lock->lock_); }
  // Returns false if `deadline` passed before a notification.
  template <typename Clock, typename Dur>
  bool WaitUntil(MutexLock* lock,
                 const std::chrono::time_point<Clock, Dur>& deadline) {
    return cv_.wait_until(lock->lock_, deadline) == std::cv_status::no_timeout;
  }
  template <typename Rep, typename Period>
  bool WaitFor(MutexLock* lock, const std::chrono::duration<Rep, Period>& d) {
    return cv_.wait_for(lock->lock_, d) == std::cv_status::no_timeout;
  }
  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace shmport

#endif  // SHMPORT_COMMON_MUTEX_H_
