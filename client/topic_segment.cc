#include "client/topic_segment.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/errors.h"
#include "common/syscalls.h"

namespace shmport::internal {

static_assert(TopicSegment::kRequiredSeals ==
              (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW |
               F_SEAL_FUTURE_WRITE));

absl::StatusOr<std::unique_ptr<TopicSegment>> TopicSegment::Create(
    uint32_t id, uint64_t size) {
  const std::string name = absl::StrCat("shmport-topic-", id);
  UniqueFd fd(sys::MemfdCreate(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd.valid()) {
    return ErrnoToStatus(errno,
                         absl::StrCat("memfd_create for topic segment ", id));
  }
  if (sys::Ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
    return ErrnoToStatus(errno, absl::StrCat("sizing topic segment ", id,
                                             " to ", size, " bytes"));
  }
  void* base =
      sys::Mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (base == MAP_FAILED) {
    return ErrnoToStatus(errno, absl::StrCat("mapping topic segment ", id));
  }
  // After our mapping: it stays writable, no later one can be.
  if (::fcntl(fd.get(), F_ADD_SEALS, kRequiredSeals) != 0) {
    const int e = errno;
    ::munmap(base, size);
    return ErrnoToStatus(e, absl::StrCat("sealing topic segment ", id));
  }
  return std::unique_ptr<TopicSegment>(
      new TopicSegment(id, size, std::move(fd), static_cast<uint8_t*>(base)));
}

absl::StatusOr<std::shared_ptr<TopicSegment>> TopicSegment::Open(
    uint32_t id, UniqueFd fd, uint64_t size) {
  const int seals = ::fcntl(fd.get(), F_GET_SEALS);
  if (seals < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "topic segment ", id, ": the fd is not a memfd (F_GET_SEALS failed)"));
  }
  if ((seals & kRequiredSeals) != kRequiredSeals) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "topic segment %u: seals 0x%x, need 0x%x (SHRINK|GROW|FUTURE_WRITE|"
        "SEAL): another subscriber could write or resize it",
        id, seals, kRequiredSeals));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<uint64_t>(st.st_size) != size) {
    return absl::InvalidArgumentError(absl::StrCat("topic segment ", id,
                                                   ": file size ", st.st_size,
                                                   ", announced ", size));
  }
  void* base = sys::Mmap(nullptr, size, PROT_READ, MAP_SHARED, fd.get(), 0);
  if (base == MAP_FAILED) {
    return ErrnoToStatus(
        errno, absl::StrCat("mapping topic segment ", id, " read-only"));
  }
  return std::shared_ptr<TopicSegment>(
      new TopicSegment(id, size, UniqueFd(), static_cast<uint8_t*>(base)));
}

TopicSegment::~TopicSegment() { ::munmap(data_, size_); }

}  // namespace shmport::internal
