#include "common/segment.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/errors.h"
#include "common/syscalls.h"

namespace shmport {
namespace {

constexpr int kRequiredSeals = F_SEAL_SHRINK | F_SEAL_GROW;

uint64_t RandomToken() {
  uint64_t token = 0;
  // getrandom on 8 bytes never returns short once the pool is initialised.
  while (getrandom(&token, sizeof(token), 0) != sizeof(token) || token == 0) {
  }
  return token;
}

absl::Status Mismatch(uint32_t id, absl::string_view field, uint64_t got,
                      uint64_t want) {
  return absl::InvalidArgumentError(absl::StrFormat(
      "segment %u: header %s is %u, expected %u", id, field, got, want));
}

}  // namespace

absl::Status ValidateGeometry(const SegmentGeometry& g) {
  if (g.chunk_size < layout::kMinChunkSize ||
      g.chunk_size > layout::kMaxChunkSize ||
      !std::has_single_bit(g.chunk_size)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "chunk_size %u must be a power of two in [%u, %u]", g.chunk_size,
        layout::kMinChunkSize, layout::kMaxChunkSize));
  }
  if (g.chunk_count < 1 || g.chunk_count > layout::kMaxChunks) {
    return absl::InvalidArgumentError(
        absl::StrFormat("chunk_count %u out of range [1, %u]", g.chunk_count,
                        layout::kMaxChunks));
  }
  if (g.data_size() > layout::kMaxSegmentDataBytes) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "segment data area %u bytes (chunk_size %u x chunk_count %u) exceeds "
        "the limit of %u bytes",
        g.data_size(), g.chunk_size, g.chunk_count,
        layout::kMaxSegmentDataBytes));
  }
  return absl::OkStatus();
}

Segment::Segment(Role role, uint32_t id, const SegmentGeometry& g,
                 uint64_t token, UniqueFd fd, uint8_t* base)
    : role_(role),
      id_(id),
      geometry_(g),
      token_(token),
      fd_(std::move(fd)),
      base_(base),
      header_(reinterpret_cast<layout::SegmentHeader*>(base)),
      data_(base + layout::kHeaderSize) {}

Segment::~Segment() { ::munmap(base_, geometry_.file_size()); }

absl::StatusOr<std::shared_ptr<Segment>> Segment::Create(
    uint32_t id, const SegmentGeometry& g, pid_t peer_pid) {
  if (absl::Status s = ValidateGeometry(g); !s.ok()) return s;
  const std::string name = absl::StrCat("shmport-seg-", id);
  UniqueFd fd(sys::MemfdCreate(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) {
    const int e = errno;
    if (e == ENOSYS) {
      return absl::UnimplementedError(
          "memfd_create is not available: shmport needs Linux >= 3.17");
    }
    return ErrnoToStatus(e, absl::StrCat("memfd_create for segment ", id));
  }
  if (sys::Ftruncate(fd.get(), static_cast<off_t>(g.file_size())) != 0) {
    return ErrnoToStatus(errno, absl::StrCat("ftruncate segment ", id, " to ",
                                             g.file_size(), " bytes"));
  }
  // Sealed against shrinking, a peer's mapping can never SIGBUS.
  if (::fcntl(fd.get(), F_ADD_SEALS,
              F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    return ErrnoToStatus(errno, absl::StrCat("sealing segment ", id));
  }
  void* base = sys::Mmap(nullptr, g.file_size(), PROT_READ | PROT_WRITE,
                         MAP_SHARED, fd.get(), 0);
  if (base == MAP_FAILED) {
    return ErrnoToStatus(errno, absl::StrCat("mmap segment ", id, " (",
                                             g.file_size(), " bytes)"));
  }
  // The memfd starts zeroed: oosm, tracking words and reserved bytes are 0.
  auto* h = new (base) layout::SegmentHeader;
  layout::SegmentInfo& info = h->info;
  info.magic = layout::kMagic;
  info.version = layout::kVersion;
  info.header_size = layout::kHeaderSize;
  info.chunk_size = g.chunk_size;
  info.chunk_count = g.chunk_count;
  info.segment_id = id;
  info.tracking_slots = layout::kTrackingSlots;
  info.creator_pid = ::getpid();
  info.peer_pid = peer_pid;
  info.token = RandomToken();
  ChunkMap(h->free_map, g.chunk_count).InitAllFree();
  ChunkMap(h->tracking_free_map, layout::kTrackingSlots).InitAllFree();
  const uint64_t token = info.token;
  return std::shared_ptr<Segment>(new Segment(
      Role::kOwner, id, g, token, std::move(fd), static_cast<uint8_t*>(base)));
}

absl::StatusOr<std::shared_ptr<Segment>> Segment::Open(
    UniqueFd fd, const Expectation& expect) {
  const uint32_t id = expect.id;
  if (absl::Status s = ValidateGeometry(expect.geometry); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("segment ", id, ": ", s.message()));
  }
  const int seals = ::fcntl(fd.get(), F_GET_SEALS);
  if (seals < 0) {
    return ErrnoToStatus(
        errno,
        absl::StrCat("segment ", id, ": reading seals (is the fd a memfd?)"));
  }
  if ((seals & kRequiredSeals) != kRequiredSeals) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "segment %u: fd seals are 0x%x, need F_SEAL_SHRINK|F_SEAL_GROW "
        "(0x%x); an unsealed memfd could be shrunk under the mapping",
        id, seals, kRequiredSeals));
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) {
    return ErrnoToStatus(errno, absl::StrCat("segment ", id, ": fstat"));
  }
  const uint64_t want = expect.geometry.file_size();
  if (!S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) != want ||
      expect.size != want) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "segment %u: file size %d, declared size %u, geometry needs %u", id,
        static_cast<int64_t>(st.st_size), expect.size, want));
  }
  // Map everything read-only, then make just the header writable: the peer
  // must free chunks and clear oosm, but has no business writing payloads.
  void* base = sys::Mmap(nullptr, want, PROT_READ, MAP_SHARED, fd.get(), 0);
  if (base == MAP_FAILED) {
    return ErrnoToStatus(
        errno, absl::StrCat("segment ", id, ": mmap ", want, " bytes"));
  }
  auto unmap = [&] { ::munmap(base, want); };
  if (::mprotect(base, layout::kHeaderSize, PROT_READ | PROT_WRITE) != 0) {
    absl::Status s = ErrnoToStatus(
        errno, absl::StrCat("segment ", id, ": making the header writable"));
    unmap();
    return s;
  }
  // Copy the immutable part once; validate the copy, never the live memory.
  layout::SegmentInfo copy;
  std::memcpy(&copy, base, sizeof(copy));
  absl::Status s;
  if (copy.magic != layout::kMagic) {
    s = absl::InvalidArgumentError(
        absl::StrFormat("segment %u: bad magic 0x%016x (want 0x%016x)", id,
                        copy.magic, layout::kMagic));
  } else if (copy.version != layout::kVersion) {
    s = Mismatch(id, "version", copy.version, layout::kVersion);
  } else if (copy.header_size != layout::kHeaderSize) {
    s = Mismatch(id, "header_size", copy.header_size, layout::kHeaderSize);
  } else if (copy.chunk_size != expect.geometry.chunk_size) {
    s = Mismatch(id, "chunk_size", copy.chunk_size, expect.geometry.chunk_size);
  } else if (copy.chunk_count != expect.geometry.chunk_count) {
    s = Mismatch(id, "chunk_count", copy.chunk_count,
                 expect.geometry.chunk_count);
  } else if (copy.segment_id != id) {
    s = Mismatch(id, "segment_id", copy.segment_id, id);
  } else if (copy.tracking_slots != layout::kTrackingSlots) {
    s = Mismatch(id, "tracking_slots", copy.tracking_slots,
                 layout::kTrackingSlots);
  } else if (copy.token != expect.token) {
    s = absl::InvalidArgumentError(absl::StrFormat(
        "segment %u: header token does not match the NEW_SEGMENT token", id));
  }
  if (!s.ok()) {
    unmap();
    return s;
  }
  fd.Reset();  // the mapping keeps the memory alive; don't hold the fd
  return std::shared_ptr<Segment>(new Segment(Role::kPeer, id, expect.geometry,
                                              expect.token, UniqueFd(),
                                              static_cast<uint8_t*>(base)));
}

absl::Status Segment::Discard(uint32_t first, uint32_t n) {
  if (role_ != Role::kOwner) {
    return absl::FailedPreconditionError("only the owner discards chunks");
  }
  if (n == 0 || first >= geometry_.chunk_count ||
      n > geometry_.chunk_count - first) {
    return absl::OutOfRangeError(
        absl::StrFormat("discard [%u, %u) outside [0, %u)", first, first + n,
                        geometry_.chunk_count));
  }
  const uint64_t size = geometry_.chunk_size;
  if (::madvise(chunk_data(first), n * size, MADV_REMOVE) != 0) {
    return ErrnoToStatus(errno, absl::StrCat("segment ", id_, ": MADV_REMOVE"));
  }
  return absl::OkStatus();
}

uint64_t Segment::ResidentBytes() const {
  static const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t size = geometry_.file_size();
  std::vector<unsigned char> pages((size + page - 1) / page);
  if (::mincore(base_, size, pages.data()) != 0) return 0;
  uint64_t resident = 0;
  for (unsigned char p : pages) resident += p & 1;
  return resident * page;
}

}  // namespace shmport
