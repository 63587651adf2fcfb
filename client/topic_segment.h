// TopicSegment: one memfd of a publisher's sample pool, which the
// publisher maps read-write and every subscriber can map read-only only.
//
// The publisher maps the memfd before sealing it with F_SEAL_FUTURE_WRITE:
// its own mapping stays writable, while every later mmap(PROT_WRITE,
// MAP_SHARED) of the file fails with EPERM and a read-only shared mapping
// cannot be mprotect()ed writable (the kernel clears VM_MAYWRITE), whoever
// holds the fd. F_SEAL_SHRINK|GROW keep the size fixed (no SIGBUS under a
// reader), F_SEAL_SEAL keeps the seals. The whole file is sample data: no
// shared header, nothing a subscriber could write.
#ifndef SHMPORT_CLIENT_TOPIC_SEGMENT_H_
#define SHMPORT_CLIENT_TOPIC_SEGMENT_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "shmport/unique_fd.h"

namespace shmport::internal {

class TopicSegment {
 public:
  // The seals a subscriber requires of every segment fd it maps.
  static constexpr int kRequiredSeals = 0x0002 | 0x0004 | 0x0010 | 0x0001;

  // Publisher: a sealed memfd of `size` bytes, mapped read-write.
  static absl::StatusOr<std::unique_ptr<TopicSegment>> Create(uint32_t id,
                                                              uint64_t size);
  // Subscriber: checks that `fd` is a memfd of exactly `size` bytes
  // carrying kRequiredSeals, maps it read-only and closes it. The error
  // names the mismatch.
  static absl::StatusOr<std::shared_ptr<TopicSegment>> Open(uint32_t id,
                                                            UniqueFd fd,
                                                            uint64_t size);
  ~TopicSegment();
  TopicSegment(const TopicSegment&) = delete;
  TopicSegment& operator=(const TopicSegment&) = delete;

  uint32_t id() const { return id_; }
  uint64_t size() const { return size_; }
  // Writable only in the publisher.
  uint8_t* data() const { return data_; }
  // Publisher: the fd every subscription gets (kept for late joiners).
  int fd() const { return fd_.get(); }

 private:
  TopicSegment(uint32_t id, uint64_t size, UniqueFd fd, uint8_t* data)
      : id_(id), size_(size), fd_(std::move(fd)), data_(data) {}

  const uint32_t id_;
  const uint64_t size_;
  UniqueFd fd_;  // publisher only
  uint8_t* const data_;
};

}  // namespace shmport::internal

#endif  // SHMPORT_CLIENT_TOPIC_SEGMENT_H_
