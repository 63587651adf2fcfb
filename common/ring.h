// RingWriter / RingReader: the two ends of a shared-memory message ring
// (see ring_layout.h). The producer creates the memfd and sends it once
// (NEW_RING); the consumer validates and maps it.
#ifndef SHMPORT_COMMON_RING_H_
#define SHMPORT_COMMON_RING_H_

#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/ring_layout.h"
#include "shmport/unique_fd.h"

namespace shmport {

// OK when `capacity` is a power of two in [kMinCapacity, kMaxCapacity].
absl::Status ValidateRingCapacity(uint32_t capacity);

// The producer's end. Not thread-safe: one producer at a time (the Port
// serialises its senders).
class RingWriter {
 public:
  // A sealed memfd of kRingHeaderSize + capacity bytes, mapped read-write.
  static absl::StatusOr<std::unique_ptr<RingWriter>> Create(uint32_t capacity);
  ~RingWriter();
  RingWriter(const RingWriter&) = delete;
  RingWriter& operator=(const RingWriter&) = delete;

  // Until CloseFd(): the memfd to send to the consumer.
  int fd() const { return fd_.get(); }
  void CloseFd() { fd_.Reset(); }
  uint64_t token() const { return token_; }
  uint32_t capacity() const { return capacity_; }
  uint64_t file_size() const {
    return uint64_t{ring_layout::kRingHeaderSize} + capacity_;
  }

  // Appends one entry of `kind` made of `parts`, always leaving room for a
  // marker. Returns false (nothing written) when it does not fit now.
  // INVALID_ARGUMENT-free by design: an entry larger than the ring simply
  // never fits. The consumer sees it after Publish().
  bool TryAppend(uint32_t kind, absl::Span<const iovec> parts);
  // Appends a socket marker into the reserved room; always succeeds.
  void AppendMarker();
  // Makes the appended entries visible. Returns true when the consumer was
  // asleep: the caller must send it a RING_WAKE (exactly one wake per sleep).
  bool Publish();

  // True when the consumer has consumed everything published. False too
  // when the consumer scribbled an impossible head (then `corrupt()`).
  bool Drained();
  bool corrupt() const { return corrupt_; }
  // True once the consumer marked its end closed (RingReader::MarkClosed).
  bool ConsumerClosed() const;

 private:
  RingWriter(UniqueFd fd, uint8_t* base, uint32_t capacity, uint64_t token);
  // Free bytes as seen now, or -1 if the consumer's head is impossible.
  int64_t FreeBytes();
  void WriteEntry(uint32_t kind, absl::Span<const iovec> parts, size_t length);

  UniqueFd fd_;
  uint8_t* const base_;
  ring_layout::RingHeader* const header_;
  uint8_t* const data_;
  const uint32_t capacity_;
  const uint64_t token_;
  uint64_t tail_ = 0;  // local: published + appended, not yet published
  bool corrupt_ = false;
};

// The consumer's end. Not thread-safe: one reader at a time (the Port's
// reader role).
class RingReader {
 public:
  // Validates the memfd (seals, size, magic, version, capacity, token) and
  // maps it: header read-write (head, sleep flag), data read-only.
  static absl::StatusOr<std::unique_ptr<RingReader>> Open(UniqueFd fd,
                                                          uint64_t size,
                                                          uint64_t token);
  ~RingReader();
  RingReader(const RingReader&) = delete;
  RingReader& operator=(const RingReader&) = delete;

  struct Entry {
    uint32_t kind;
    uint32_t length;  // bytes copied to the caller's buffer
  };
  // Copies the next entry into `out` (so the producer cannot change it
  // under the caller) and consumes it. nullopt when the ring is empty.
  // INVALID_ARGUMENT when the producer wrote something impossible: a tail
  // behind the head or beyond the capacity, an entry larger than `out` or
  // than what was published, an unknown kind.
  absl::StatusOr<std::optional<Entry>> Pop(absl::Span<uint8_t> out);
  bool Empty() const;

  // The sleep protocol. PrepareToSleep raises the flag and re-checks:
  // false means entries arrived (the flag is lowered again; do not sleep).
  bool PrepareToSleep();
  // Lowers the flag after waking (the producer may have lowered it).
  void Awake();
  // Tells the producer this end is closed. Any thread, any time.
  void MarkClosed();

 private:
  RingReader(uint8_t* base, uint32_t capacity);

  uint8_t* const base_;
  ring_layout::RingHeader* const header_;
  const uint8_t* const data_;
  const uint32_t capacity_;  // local copy, validated
  uint64_t head_ = 0;        // local copy: the shared one is only written
};

}  // namespace shmport

#endif  // SHMPORT_COMMON_RING_H_
