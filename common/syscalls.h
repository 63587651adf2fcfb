// The system calls that acquire shared memory, behind a seam that tests use
// to inject failures (fault injection without LD_PRELOAD tricks).
#ifndef SHMPORT_COMMON_SYSCALLS_H_
#define SHMPORT_COMMON_SYSCALLS_H_

#include <sys/types.h>

#include <cstddef>

namespace shmport::sys {

enum class Call { kMemfdCreate, kFtruncate, kMmap, kCount };

// Each wrapper behaves exactly like the libc call (returns -1 / MAP_FAILED
// and sets errno on failure) unless a failure was injected for it.
int MemfdCreate(const char* name, unsigned int flags);
int Ftruncate(int fd, off_t size);
void* Mmap(void* addr, size_t length, int prot, int flags, int fd,
           off_t offset);

// Test seam: after `skip` further successful calls of `call`, the next
// `count` calls fail with `error` without reaching the kernel. Thread-safe.
void InjectFailure(Call call, int error, int skip = 0, int count = 1);
// Removes every injected failure.
void ClearInjectedFailures();

// RAII form for tests: injects on construction, clears on destruction.
class ScopedFailure {
 public:
  ScopedFailure(Call call, int error, int skip = 0, int count = 1) {
    InjectFailure(call, error, skip, count);
  }
  ~ScopedFailure() { ClearInjectedFailures(); }
  ScopedFailure(const ScopedFailure&) = delete;
  ScopedFailure& operator=(const ScopedFailure&) = delete;
};

}  // namespace shmport::sys

#endif  // SHMPORT_COMMON_SYSCALLS_H_
