// Counts the calls to the global operator new made by this thread: the
// test binary that links allocation_counter.cc replaces every form of it.
#ifndef SHMPORT_TESTS_PERF_ALLOCATION_COUNTER_H_
#define SHMPORT_TESTS_PERF_ALLOCATION_COUNTER_H_

#include <cstdint>

namespace shmport::testing {

// Counts this thread's allocations from construction until count() (no
// other thread's, and none before). Not nestable.
class AllocationCounter {
 public:
  AllocationCounter();
  ~AllocationCounter();
  AllocationCounter(const AllocationCounter&) = delete;
  AllocationCounter& operator=(const AllocationCounter&) = delete;

  uint64_t count() const;
};

}  // namespace shmport::testing

#endif  // SHMPORT_TESTS_PERF_ALLOCATION_COUNTER_H_
