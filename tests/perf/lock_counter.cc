#include "tests/perf/lock_counter.h"

#include <pthread.h>

namespace {

// Trivial thread_locals: reading them takes no lock.
thread_local bool counting = false;
thread_local uint64_t locks = 0;

}  // namespace

// glibc's own entry points: the names it exports beside the public ones,
// under their only (non-default) version, which a link reaches only by
// naming it.
extern "C" int glibc_mutex_lock(pthread_mutex_t* mutex);
extern "C" int glibc_mutex_trylock(pthread_mutex_t* mutex);
__asm__(".symver glibc_mutex_lock, __pthread_mutex_lock@GLIBC_2.2.5");
__asm__(".symver glibc_mutex_trylock, __pthread_mutex_trylock@GLIBC_2.2.5");

// The executable's definitions come first: the code linked into it calls
// them directly, shared libraries through the dynamic symbol (-rdynamic).
extern "C" int pthread_mutex_lock(pthread_mutex_t* mutex) {
  if (counting) ++locks;
  return glibc_mutex_lock(mutex);
}
extern "C" int pthread_mutex_trylock(pthread_mutex_t* mutex) {
  if (counting) ++locks;
  return glibc_mutex_trylock(mutex);
}

namespace shmport::testing {

LockCounter::LockCounter() {
  locks = 0;
  counting = true;
}
LockCounter::~LockCounter() { counting = false; }
uint64_t LockCounter::count() const { return locks; }

}  // namespace shmport::testing
