#include "common/syscalls.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>

namespace shmport::sys {
namespace {

struct Injection {
  std::atomic<int> skip{0};
  std::atomic<int> fail{0};
  std::atomic<int> error{0};
};

Injection injections[static_cast<int>(Call::kCount)];

// Returns the errno to fail with, or 0 to let the call through.
int ConsumeInjection(Call call) {
  Injection& in = injections[static_cast<int>(call)];
  if (in.fail.load(std::memory_order_acquire) == 0) return 0;
  int skip = in.skip.load(std::memory_order_relaxed);
  while (skip > 0) {
    if (in.skip.compare_exchange_weak(skip, skip - 1)) return 0;
  }
  int fail = in.fail.load(std::memory_order_relaxed);
  while (fail > 0) {
    if (in.fail.compare_exchange_weak(fail, fail - 1)) {
      return in.error.load(std::memory_order_relaxed);
    }
  }
  return 0;
}

}  // namespace

int MemfdCreate(const char* name, unsigned int flags) {
  if (int e = ConsumeInjection(Call::kMemfdCreate)) {
    errno = e;
    return -1;
  }
  return ::memfd_create(name, flags);
}

int Ftruncate(int fd, off_t size) {
  if (int e = ConsumeInjection(Call::kFtruncate)) {
    errno = e;
    return -1;
  }
  return ::ftruncate(fd, size);
}

void* Mmap(void* addr, size_t length, int prot, int flags, int fd,
           off_t offset) {
  if (int e = ConsumeInjection(Call::kMmap)) {
    errno = e;
    return MAP_FAILED;
  }
  return ::mmap(addr, length, prot, flags, fd, offset);
}

void InjectFailure(Call call, int error, int skip, int count) {
  Injection& in = injections[static_cast<int>(call)];
  in.error.store(error, std::memory_order_relaxed);
  in.skip.store(skip, std::memory_order_relaxed);
  in.fail.store(count, std::memory_order_release);
}

void ClearInjectedFailures() {
  for (Injection& in : injections) {
    in.fail.store(0, std::memory_order_release);
    in.skip.store(0, std::memory_order_relaxed);
  }
}

}  // namespace shmport::sys
