#include "bench/handoff_transport.h"

#include <errno.h>
#include <sched.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace shmport::bench {
namespace {

constexpr size_t kCacheLine = 64;
constexpr size_t kPage = 4096;

// A wait longer than this means the peer is gone or stuck (the cell
// runner's deadline would kill both anyway; this says so first).
constexpr absl::Duration kWaitTimeout = absl::Seconds(60);
// Spins between looks at the clock and offers of the CPU (sched_yield): a
// spinner that shares its CPU with the peer must let it run, or every
// handoff waits for a time slice to end. 256 pauses (several microseconds)
// are longer than a small payload's handoff on idle CPUs, so there the
// loop never yields; a waiter for a large payload yields (a cheap syscall
// with nothing else to run) while it has nothing to do anyway.
constexpr uint64_t kSpinsPerCheck = 256;

enum : uint64_t { kEmpty = 0, kFull = 1 };

// One slot's flag, alone in its cache line.
struct alignas(kCacheLine) Flag {
  std::atomic<uint64_t> state;
};
static_assert(std::atomic<uint64_t>::is_always_lock_free,
              "the flag must work across processes");

size_t RoundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }

// Distance between slot payloads: whole cache lines, whole pages once a
// payload spans pages.
size_t SlotStride(size_t payload_bytes) {
  return RoundUp(payload_bytes, payload_bytes >= kPage ? kPage : kCacheLine);
}

// One direction's slots in the shared mapping: flags first, then payloads.
struct Ring {
  Flag* flags = nullptr;
  uint8_t* payloads = nullptr;
  size_t slots = 0;
  size_t stride = 0;

  static size_t Bytes(size_t slots, size_t stride) {
    return RoundUp(slots * sizeof(Flag), kPage) + slots * stride;
  }
  static Ring At(uint8_t* base, size_t slots, size_t stride) {
    Ring r;
    r.flags = reinterpret_cast<Flag*>(base);
    r.payloads = base + RoundUp(slots * sizeof(Flag), kPage);
    r.slots = slots;
    r.stride = stride;
    return r;
  }
  Flag& flag(uint64_t index) const { return flags[index % slots]; }
  uint8_t* payload(uint64_t index) const {
    return payloads + (index % slots) * stride;
  }
};

// Busy-polls until `flag` holds `want` (acquire).
absl::Status AwaitState(const Flag& flag, uint64_t want) {
  if (flag.state.load(std::memory_order_acquire) == want) {
    return absl::OkStatus();
  }
  const absl::Time deadline = absl::Now() + kWaitTimeout;
  while (true) {
    for (uint64_t i = 0; i < kSpinsPerCheck; ++i) {
      __builtin_ia32_pause();
      if (flag.state.load(std::memory_order_acquire) == want) {
        return absl::OkStatus();
      }
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("handoff: the peer left a slot unchanged for ",
                       absl::FormatDuration(kWaitTimeout)));
    }
    sched_yield();
  }
}

class HandoffEndpoint : public Endpoint {
 public:
  HandoffEndpoint(Ring out, Ring in, size_t payload_bytes)
      : out_(out), in_(in), payload_bytes_(payload_bytes) {}

  absl::StatusOr<absl::Span<uint8_t>> PrepareSend() override {
    if (absl::Status s = AwaitState(out_.flag(sent_), kEmpty); !s.ok()) {
      return s;
    }
    return absl::Span<uint8_t>(out_.payload(sent_), payload_bytes_);
  }
  absl::Status Send() override {
    out_.flag(sent_++).state.store(kFull, std::memory_order_release);
    return absl::OkStatus();
  }
  absl::StatusOr<absl::Span<const uint8_t>> Receive() override {
    if (absl::Status s = AwaitState(in_.flag(received_), kFull); !s.ok()) {
      return s;
    }
    return absl::Span<const uint8_t>(in_.payload(received_), payload_bytes_);
  }
  void Release() override {
    in_.flag(received_++).state.store(kEmpty, std::memory_order_release);
  }

 private:
  Ring out_;
  Ring in_;
  size_t payload_bytes_;
  uint64_t sent_ = 0;
  uint64_t received_ = 0;
};

// The mapping is shared (MAP_SHARED) and made before fork, so both children
// inherit it; the parent unmaps its view when the connection is destroyed.
class HandoffConnection : public Connection {
 public:
  HandoffConnection(uint8_t* base, size_t bytes, Ring forward, Ring back,
                    size_t payload_bytes)
      : base_(base),
        bytes_(bytes),
        forward_(forward),
        back_(back),
        payload_bytes_(payload_bytes) {}
  ~HandoffConnection() override { ::munmap(base_, bytes_); }

  absl::StatusOr<std::unique_ptr<Endpoint>> Open(Side side,
                                                 pid_t /*peer*/) override {
    if (side == Side::kSender) {
      return std::make_unique<HandoffEndpoint>(forward_, back_, payload_bytes_);
    }
    return std::make_unique<HandoffEndpoint>(back_, forward_, payload_bytes_);
  }

 private:
  uint8_t* base_;
  size_t bytes_;
  Ring forward_;  // sender -> receiver
  Ring back_;     // receiver -> sender (ping-pong replies)
  size_t payload_bytes_;
};

}  // namespace

size_t HandoffSlots(size_t payload_bytes) {
  const size_t fit = kHandoffBudgetBytes / SlotStride(payload_bytes);
  return std::clamp<size_t>(fit, 2, kMaxHandoffSlots);
}

absl::StatusOr<std::unique_ptr<Connection>> HandoffTransport::Connect(
    size_t payload_bytes) const {
  const size_t slots = HandoffSlots(payload_bytes);
  const size_t stride = SlotStride(payload_bytes);
  const size_t ring_bytes = Ring::Bytes(slots, stride);
  void* base = ::mmap(nullptr, 2 * ring_bytes, PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) {
    return absl::ResourceExhaustedError(
        absl::StrCat("handoff: mmap of ", 2 * ring_bytes,
                     " shared bytes: ", std::strerror(errno)));
  }
  auto* bytes = static_cast<uint8_t*>(base);  // zero-filled: every slot empty
  return std::make_unique<HandoffConnection>(
      bytes, 2 * ring_bytes, Ring::At(bytes, slots, stride),
      Ring::At(bytes + ring_bytes, slots, stride), payload_bytes);
}

}  // namespace shmport::bench
