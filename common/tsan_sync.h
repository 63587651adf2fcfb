// TsanRelease / TsanAcquire: an order ThreadSanitizer cannot see because it
// passes through a second mapping of the same memory. A port's receiver
// frees chunks in place, through its own mapping of the sender's segment,
// and the sender's next claim of a chunk is an acquire on that bit through
// the sender's mapping. When both ends live in one process (the tests),
// TSan sees two atomics at two addresses, so no order between the sender
// thread that wrote a chunk before sending it and the sender thread that
// claims it again after the receiver freed it, and reports their writes as
// a race. The order is real (the claim reads the receiver's release, which
// follows its read of our send); these calls state it for TSan on a key of
// the sender's own (the Segment). No-ops outside TSan builds.
#ifndef SHMPORT_COMMON_TSAN_SYNC_H_
#define SHMPORT_COMMON_TSAN_SYNC_H_

#if defined(__SANITIZE_THREAD__)
#define SHMPORT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SHMPORT_TSAN 1
#endif
#endif

#ifdef SHMPORT_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace shmport {

// What this thread did so far happens before a later TsanAcquire(key).
inline void TsanRelease([[maybe_unused]] const void* key) {
#ifdef SHMPORT_TSAN
  __tsan_release(const_cast<void*>(key));
#endif
}

// Everything before each earlier TsanRelease(key) happens before what this
// thread does next.
inline void TsanAcquire([[maybe_unused]] const void* key) {
#ifdef SHMPORT_TSAN
  __tsan_acquire(const_cast<void*>(key));
#endif
}

}  // namespace shmport

#endif  // SHMPORT_COMMON_TSAN_SYNC_H_
