// Counts the calls to pthread_mutex_lock and pthread_mutex_trylock made by
// this thread: the test binary that links lock_counter.cc replaces both
// (every Mutex of common/mutex.h, every std::mutex and the CondVar waits'
// re-locks go through them), forwarding to glibc's own.
#ifndef SHMPORT_TESTS_PERF_LOCK_COUNTER_H_
#define SHMPORT_TESTS_PERF_LOCK_COUNTER_H_

#include <cstdint>

namespace shmport::testing {

// Counts this thread's mutex acquisitions (and attempts) from construction
// until count(). Not nestable.
class LockCounter {
 public:
  LockCounter();
  ~LockCounter();
  LockCounter(const LockCounter&) = delete;
  LockCounter& operator=(const LockCounter&) = delete;

  uint64_t count() const;
};

}  // namespace shmport::testing

#endif  // SHMPORT_TESTS_PERF_LOCK_COUNTER_H_
