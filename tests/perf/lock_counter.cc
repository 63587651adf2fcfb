#include "tests/perf/lock_counter.h"

#include <dlfcn.h>
#include <pthread.h>

#include <atomic>

namespace {

// Trivial thread_locals: reading them takes no lock.
thread_local bool counting = false;
thread_local uint64_t locks = 0;

// The definitions these replace: the next ones in the lookup order after
// this executable (glibc's, or a sanitizer runtime's interceptor that
// forwards to glibc's), looked up at the first call, whenever that is
// (static initialisers lock too). glibc's dlsym takes its own locks
// through internal names, not these.
using LockFunction = int (*)(pthread_mutex_t*);
LockFunction Next(std::atomic<LockFunction>& next, const char* name) {
  LockFunction f = next.load(std::memory_order_acquire);
  if (f == nullptr) {
    f = reinterpret_cast<LockFunction>(::dlsym(RTLD_NEXT, name));
    next.store(f, std::memory_order_release);
  }
  return f;
}
std::atomic<LockFunction> next_lock{nullptr};
std::atomic<LockFunction> next_trylock{nullptr};

}  // namespace

// The executable's definitions come first: the code linked into it calls
// them directly, shared libraries through the dynamic symbol (-rdynamic).
extern "C" int pthread_mutex_lock(pthread_mutex_t* mutex) {
  if (counting) ++locks;
  return Next(next_lock, "pthread_mutex_lock")(mutex);
}
extern "C" int pthread_mutex_trylock(pthread_mutex_t* mutex) {
  if (counting) ++locks;
  return Next(next_trylock, "pthread_mutex_trylock")(mutex);
}

namespace shmport::testing {

LockCounter::LockCounter() {
  locks = 0;
  counting = true;
}
LockCounter::~LockCounter() { counting = false; }
uint64_t LockCounter::count() const { return locks; }

}  // namespace shmport::testing
