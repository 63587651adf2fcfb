#include "common/ring.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/errors.h"
#include "common/syscalls.h"

namespace shmport {
namespace {

using ring_layout::kEntryAlign;
using ring_layout::kEntryHeaderBytes;
using ring_layout::kRingHeaderSize;

constexpr uint64_t AlignUp(uint64_t n) {
  return (n + kEntryAlign - 1) / kEntryAlign * kEntryAlign;
}

struct EntryHeader {
  uint32_t length;
  uint32_t kind;
};
static_assert(sizeof(EntryHeader) == kEntryHeaderBytes);

}  // namespace

absl::Status ValidateRingCapacity(uint32_t capacity) {
  if (capacity < ring_layout::kMinCapacity ||
      capacity > ring_layout::kMaxCapacity || !std::has_single_bit(capacity)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "ring capacity %u must be a power of two in [%u, %u]", capacity,
        ring_layout::kMinCapacity, ring_layout::kMaxCapacity));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------

RingWriter::RingWriter(UniqueFd fd, uint8_t* base, uint32_t capacity,
                       uint64_t token)
    : fd_(std::move(fd)),
      base_(base),
      header_(reinterpret_cast<ring_layout::RingHeader*>(base)),
      data_(base + kRingHeaderSize),
      capacity_(capacity),
      token_(token) {}

RingWriter::~RingWriter() { ::munmap(base_, file_size()); }

absl::StatusOr<std::unique_ptr<RingWriter>> RingWriter::Create(
    uint32_t capacity) {
  if (absl::Status s = ValidateRingCapacity(capacity); !s.ok()) return s;
  const uint64_t size = uint64_t{kRingHeaderSize} + capacity;
  UniqueFd fd(
      sys::MemfdCreate("shmport-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) return ErrnoToStatus(errno, "memfd_create for a ring");
  if (sys::Ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
    return ErrnoToStatus(errno, "ftruncate ring");
  }
  if (::fcntl(fd.get(), F_ADD_SEALS,
              F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    return ErrnoToStatus(errno, "sealing ring");
  }
  void* base =
      sys::Mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (base == MAP_FAILED) return ErrnoToStatus(errno, "mmap ring");
  auto* h = new (base) ring_layout::RingHeader;
  h->info.magic = ring_layout::kMagic;
  h->info.version = ring_layout::kVersion;
  h->info.header_size = kRingHeaderSize;
  h->info.capacity = capacity;
  uint64_t token = 0;
  while (getrandom(&token, sizeof(token), 0) != sizeof(token) || token == 0) {
  }
  h->info.token = token;
  return std::unique_ptr<RingWriter>(new RingWriter(
      std::move(fd), static_cast<uint8_t*>(base), capacity, token));
}

int64_t RingWriter::FreeBytes() {
  const uint64_t head = header_->head.load(std::memory_order_acquire);
  // The consumer owns head; a value outside [published start, tail] is a
  // scribble. Never trust it to size a write.
  if (head > tail_ || tail_ - head > capacity_) {
    corrupt_ = true;
    return -1;
  }
  return static_cast<int64_t>(capacity_ - (tail_ - head));
}

void RingWriter::WriteEntry(uint32_t kind, absl::Span<const iovec> parts,
                            size_t length) {
  uint8_t* at = data_ + (tail_ & (capacity_ - 1));
  const EntryHeader eh{static_cast<uint32_t>(length), kind};
  std::memcpy(at, &eh, sizeof(eh));
  uint8_t* p = at + sizeof(eh);
  for (const iovec& part : parts) {
    std::memcpy(p, part.iov_base, part.iov_len);
    p += part.iov_len;
  }
  tail_ += kEntryHeaderBytes + AlignUp(length);
}

bool RingWriter::TryAppend(uint32_t kind, absl::Span<const iovec> parts) {
  size_t length = 0;
  for (const iovec& part : parts) length += part.iov_len;
  const uint64_t need = kEntryHeaderBytes + AlignUp(length);
  const uint64_t to_end = capacity_ - (tail_ & (capacity_ - 1));
  const uint64_t pad = need > to_end ? to_end : 0;
  const int64_t free = FreeBytes();
  if (free < 0 ||
      static_cast<uint64_t>(free) < pad + need + ring_layout::kMarkerReserve) {
    return false;
  }
  if (pad > 0) {
    const EntryHeader eh{static_cast<uint32_t>(pad - kEntryHeaderBytes),
                         ring_layout::kKindPad};
    std::memcpy(data_ + (tail_ & (capacity_ - 1)), &eh, sizeof(eh));
    tail_ += pad;
  }
  WriteEntry(kind, parts, length);
  return true;
}

void RingWriter::AppendMarker() {
  // A marker is one entry header: it always fits in the reserved room, and
  // at the end of the area (to_end >= 8 since everything is 8-aligned).
  WriteEntry(ring_layout::kKindSocketMarker, {}, 0);
}

bool RingWriter::Publish() {
  header_->tail.store(tail_, std::memory_order_release);
  // Pairs with PrepareToSleep: either the consumer sees the new tail, or
  // we see its flag.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (header_->consumer_sleeping.load(std::memory_order_relaxed) == 0) {
    return false;
  }
  uint32_t sleeping = 1;
  return header_->consumer_sleeping.compare_exchange_strong(
      sleeping, 0, std::memory_order_seq_cst);
}

bool RingWriter::ConsumerClosed() const {
  return header_->consumer_closed.load(std::memory_order_acquire) != 0;
}

bool RingWriter::Drained() {
  return !corrupt_ && header_->head.load(std::memory_order_acquire) == tail_ &&
         FreeBytes() >= 0;
}

// ---------------------------------------------------------------------------

RingReader::RingReader(uint8_t* base, uint32_t capacity)
    : base_(base),
      header_(reinterpret_cast<ring_layout::RingHeader*>(base)),
      data_(base + kRingHeaderSize),
      capacity_(capacity) {}

RingReader::~RingReader() {
  ::munmap(base_, uint64_t{kRingHeaderSize} + capacity_);
}

absl::StatusOr<std::unique_ptr<RingReader>> RingReader::Open(UniqueFd fd,
                                                             uint64_t size,
                                                             uint64_t token) {
  const int seals = ::fcntl(fd.get(), F_GET_SEALS);
  if (seals < 0) {
    return ErrnoToStatus(errno, "ring: reading seals (is the fd a memfd?)");
  }
  if ((seals & (F_SEAL_SHRINK | F_SEAL_GROW)) !=
      (F_SEAL_SHRINK | F_SEAL_GROW)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "ring: fd seals are 0x%x, need F_SEAL_SHRINK|F_SEAL_GROW", seals));
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoToStatus(errno, "ring: fstat");
  if (size <= kRingHeaderSize || size - kRingHeaderSize > UINT32_MAX ||
      static_cast<uint64_t>(st.st_size) != size) {
    return absl::InvalidArgumentError(
        absl::StrFormat("ring: file size %d, declared size %u",
                        static_cast<int64_t>(st.st_size), size));
  }
  const uint32_t capacity = static_cast<uint32_t>(size - kRingHeaderSize);
  if (absl::Status s = ValidateRingCapacity(capacity); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("ring: ", s.message()));
  }
  void* base = sys::Mmap(nullptr, size, PROT_READ, MAP_SHARED, fd.get(), 0);
  if (base == MAP_FAILED) return ErrnoToStatus(errno, "ring: mmap");
  if (::mprotect(base, kRingHeaderSize, PROT_READ | PROT_WRITE) != 0) {
    absl::Status s = ErrnoToStatus(errno, "ring: making the header writable");
    ::munmap(base, size);
    return s;
  }
  ring_layout::RingInfo info;
  std::memcpy(&info, base, sizeof(info));
  absl::Status s;
  if (info.magic != ring_layout::kMagic) {
    s = absl::InvalidArgumentError(
        absl::StrFormat("ring: bad magic 0x%016x", info.magic));
  } else if (info.version != ring_layout::kVersion ||
             info.header_size != kRingHeaderSize || info.capacity != capacity) {
    s = absl::InvalidArgumentError(absl::StrFormat(
        "ring: header version %u, header_size %u, capacity %u; expected %u, "
        "%u, %u",
        info.version, info.header_size, info.capacity, ring_layout::kVersion,
        kRingHeaderSize, capacity));
  } else if (info.token != token) {
    s = absl::InvalidArgumentError(
        "ring: header token does not match the NEW_RING token");
  }
  if (!s.ok()) {
    ::munmap(base, size);
    return s;
  }
  return std::unique_ptr<RingReader>(
      new RingReader(static_cast<uint8_t*>(base), capacity));
}

bool RingReader::Empty() const {
  return header_->tail.load(std::memory_order_acquire) == head_;
}

absl::StatusOr<std::optional<RingReader::Entry>> RingReader::Pop(
    absl::Span<uint8_t> out) {
  while (true) {
    const uint64_t tail = header_->tail.load(std::memory_order_acquire);
    if (tail == head_) return std::nullopt;
    if (tail < head_ || tail - head_ > capacity_ || tail % kEntryAlign != 0) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "ring: tail %u impossible for head %u and capacity %u", tail, head_,
          capacity_));
    }
    const uint64_t offset = head_ & (capacity_ - 1);
    const uint64_t published = tail - head_;
    const uint64_t to_end = capacity_ - offset;
    // The tail is 8-aligned (checked above), so a whole entry header has
    // been published.
    EntryHeader eh;
    std::memcpy(&eh, data_ + offset, sizeof(eh));
    const uint64_t span = kEntryHeaderBytes + AlignUp(eh.length);
    if (span > published || span > to_end) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "ring: entry of %u bytes at offset %u runs past what was published "
          "(%u) or the end of the area (%u)",
          eh.length, offset, published, to_end));
    }
    if (eh.kind == ring_layout::kKindPad) {
      if (span != to_end) {
        return absl::InvalidArgumentError(
            "ring: a pad entry that does not reach the end of the area");
      }
      head_ += span;
      header_->head.store(head_, std::memory_order_release);
      continue;
    }
    if (eh.kind != ring_layout::kKindMessage &&
        eh.kind != ring_layout::kKindSocketMarker) {
      return absl::InvalidArgumentError(
          absl::StrFormat("ring: unknown entry kind %u", eh.kind));
    }
    if (eh.length > out.size()) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "ring: entry of %u bytes exceeds the %u-byte message limit",
          eh.length, out.size()));
    }
    std::memcpy(out.data(), data_ + offset + kEntryHeaderBytes, eh.length);
    head_ += span;
    // Release: our reads of the entry happen before the producer reuses it.
    header_->head.store(head_, std::memory_order_release);
    return std::optional<Entry>(Entry{eh.kind, eh.length});
  }
}

bool RingReader::PrepareToSleep() {
  header_->consumer_sleeping.store(1, std::memory_order_seq_cst);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (header_->tail.load(std::memory_order_acquire) != head_) {
    header_->consumer_sleeping.store(0, std::memory_order_relaxed);
    return false;
  }
  return true;
}

void RingReader::Awake() {
  header_->consumer_sleeping.store(0, std::memory_order_relaxed);
}

void RingReader::MarkClosed() {
  header_->consumer_closed.store(1, std::memory_order_release);
}

}  // namespace shmport
