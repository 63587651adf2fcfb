#include "tests/perf/allocation_counter.h"

#include <execinfo.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <new>

namespace {

// Trivial thread_locals: reading them allocates nothing.
thread_local bool counting = false;
thread_local uint64_t allocations = 0;

// The first allocation a counter sees is written to stderr with its stack
// (symbol names need -rdynamic), so that a failing test says where it
// allocated. backtrace() itself allocates nothing once warmed up (the
// counter's constructor does that).
void ReportFirst() {
  static const char kHead[] =
      "allocation counter: the first allocation counted was made at:\n";
  void* frames[32];
  const int depth = ::backtrace(frames, 32);
  [[maybe_unused]] ssize_t n = ::write(2, kHead, sizeof(kHead) - 1);
  ::backtrace_symbols_fd(frames, depth, 2);
}

void* Allocate(std::size_t n, std::size_t alignment) {
  if (counting && ++allocations == 1) ReportFirst();
  if (n == 0) n = 1;
  void* p = alignment <= alignof(std::max_align_t)
                ? std::malloc(n)
                : std::aligned_alloc(
                      alignment, (n + alignment - 1) / alignment * alignment);
  return p;
}

void* AllocateOrThrow(std::size_t n, std::size_t alignment) {
  void* p = Allocate(n, alignment);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

}  // namespace

namespace shmport::testing {

AllocationCounter::AllocationCounter() {
  void* warm_up[1];
  ::backtrace(warm_up, 1);  // loads what backtrace() needs, before counting
  allocations = 0;
  counting = true;
}
AllocationCounter::~AllocationCounter() { counting = false; }
uint64_t AllocationCounter::count() const { return allocations; }

}  // namespace shmport::testing

// Every replaceable form of the global operator new and delete.
void* operator new(std::size_t n) { return AllocateOrThrow(n, 0); }
void* operator new[](std::size_t n) { return AllocateOrThrow(n, 0); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return Allocate(n, 0);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return Allocate(n, 0);
}
void* operator new(std::size_t n, std::align_val_t a) {
  return AllocateOrThrow(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return AllocateOrThrow(n, static_cast<std::size_t>(a));
}
void* operator new(std::size_t n, std::align_val_t a,
                   const std::nothrow_t&) noexcept {
  return Allocate(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a,
                     const std::nothrow_t&) noexcept {
  return Allocate(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t,
                     const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t,
                       const std::nothrow_t&) noexcept {
  std::free(p);
}
