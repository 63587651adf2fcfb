#include "tests/fuzz/ring_reader_input.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/wire.h"
#include "shmport/unique_fd.h"

namespace shmport::fuzz {
namespace {

using ring_layout::kEntryHeaderBytes;
using ring_layout::kRingHeaderSize;

// "ringseed": the token the NEW_RING of every fuzzed ring declares.
constexpr uint64_t kToken = 0x6465'6573'676e'6972ULL;

constexpr uint64_t AlignUp(uint64_t n) {
  return (n + ring_layout::kEntryAlign - 1) / ring_layout::kEntryAlign *
         ring_layout::kEntryAlign;
}

template <typename T>
void Put(std::vector<uint8_t>& out, T value) {
  const size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &value, sizeof(T));
}

// Reads a T at `*pos` and advances; false when the input ends first.
template <typename T>
bool Take(absl::Span<const uint8_t> in, size_t* pos, T* value) {
  if (in.size() - *pos < sizeof(T)) return false;
  std::memcpy(value, in.data() + *pos, sizeof(T));
  *pos += sizeof(T);
  return true;
}

// The producer's own read-write mapping of the whole ring.
class ProducerMapping {
 public:
  ProducerMapping(void* base, size_t size)
      : base_(static_cast<uint8_t*>(base)), size_(size) {}
  ~ProducerMapping() { ::munmap(base_, size_); }
  ProducerMapping(const ProducerMapping&) = delete;
  ProducerMapping& operator=(const ProducerMapping&) = delete;

  ring_layout::RingHeader* header() const {
    return reinterpret_cast<ring_layout::RingHeader*>(base_);
  }
  absl::Span<uint8_t> data() const {
    return {base_ + kRingHeaderSize, size_ - kRingHeaderSize};
  }

 private:
  uint8_t* const base_;
  const size_t size_;
};

// Writes one entry header (and, for `fill`, its payload) at `offset`.
void PutEntry(absl::Span<uint8_t> data, uint64_t offset, uint32_t length,
              uint32_t kind, bool fill) {
  const uint32_t header[2] = {length, kind};
  std::memcpy(data.data() + offset, header, sizeof(header));
  // memset, not a loop: an instrumented per-byte loop would dominate a run.
  if (fill) {
    std::memset(data.data() + offset + kEntryHeaderBytes,
                static_cast<int>((offset / 8 + length) & 0xff), length);
  }
}

}  // namespace

RingScript::RingScript(RingReaderControl control) { Put(bytes_, control); }

RingScript& RingScript::Write(uint16_t offset,
                              absl::Span<const uint8_t> bytes) {
  bytes_.push_back(static_cast<uint8_t>(RingOp::kWrite));
  Put(bytes_, offset);
  Put(bytes_, static_cast<uint8_t>(bytes.size()));
  bytes_.insert(bytes_.end(), bytes.begin(),
                bytes.begin() + std::min<size_t>(bytes.size(), 255));
  return *this;
}

RingScript& RingScript::Append(uint16_t length, uint8_t kind) {
  bytes_.push_back(static_cast<uint8_t>(RingOp::kAppend));
  Put(bytes_, length);
  Put(bytes_, kind);
  return *this;
}

RingScript& RingScript::Publish() {
  bytes_.push_back(static_cast<uint8_t>(RingOp::kPublish));
  return *this;
}

RingScript& RingScript::SetTail(uint64_t tail) {
  bytes_.push_back(static_cast<uint8_t>(RingOp::kSetTail));
  Put(bytes_, tail);
  return *this;
}

RingScript& RingScript::Pop() {
  bytes_.push_back(static_cast<uint8_t>(RingOp::kPop));
  return *this;
}

absl::StatusOr<RingRun> RunRingScript(
    absl::Span<const uint8_t> input,
    const std::function<void(const PopEvent&)>& observe, int* fd_number) {
  RingReaderControl control{};
  const size_t n = std::min(input.size(), sizeof(control));
  std::memcpy(&control, input.data(), n);
  const absl::Span<const uint8_t> ops = input.subspan(n);

  const uint8_t faults = control.open_faults;
  const uint32_t capacity = ring_layout::kMinCapacity
                            << (control.capacity_shift % 4);
  const uint64_t area =
      capacity + ((faults & kRingCapacityNotPowerOfTwo) != 0 ? 8 : 0);
  const uint64_t size = kRingHeaderSize + area;

  UniqueFd fd(::memfd_create(kRingMemfdName, MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) return ErrnoToStatus(errno, "memfd_create");
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
    return ErrnoToStatus(errno, "ftruncate");
  }
  void* base =
      ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (base == MAP_FAILED) return ErrnoToStatus(errno, "mmap");
  const ProducerMapping producer(base, size);

  ring_layout::RingInfo info{};
  info.magic = ring_layout::kMagic ^ ((faults & kRingBadMagic) ? 1 : 0);
  info.version = ring_layout::kVersion + ((faults & kRingBadVersion) ? 1 : 0);
  info.header_size =
      kRingHeaderSize + ((faults & kRingBadHeaderSize) ? 4096 : 0);
  info.capacity = static_cast<uint32_t>(area) ^
                  ((faults & kRingBadHeaderCapacity) ? capacity : 0);
  info.token = kToken ^ ((faults & kRingBadToken) ? 1 : 0);
  std::memcpy(&producer.header()->info, &info, sizeof(info));

  const int seals = F_SEAL_GROW | F_SEAL_SEAL |
                    ((faults & kRingNoShrinkSeal) ? 0 : F_SEAL_SHRINK);
  if (::fcntl(fd.get(), F_ADD_SEALS, seals) != 0) {
    return ErrnoToStatus(errno, "F_ADD_SEALS");
  }
  const uint64_t declared =
      size + ((faults & kRingDeclaredSizeOff) ? ring_layout::kMinCapacity : 0);

  RingRun run;
  run.should_open = faults == 0;
  if (fd_number != nullptr) *fd_number = fd.get();
  absl::StatusOr<std::unique_ptr<RingReader>> reader =
      RingReader::Open(std::move(fd), declared, kToken);
  run.open = reader.status();
  if (!reader.ok()) return run;

  const size_t out_size =
      control.out_size != 0 ? control.out_size : wire::kMaxMessageBytes;
  // Exact size, so ASan flags a copy past its end; left uninitialised (Pop
  // writes before anyone reads), as zeroing 64 KiB would dominate a run.
  const std::unique_ptr<uint8_t[]> out(new uint8_t[out_size]);
  ring_layout::RingHeader* const header = producer.header();
  const absl::Span<uint8_t> data = producer.data();

  // One Pop; false when the ring was empty or the reader failed.
  auto pop = [&]() {
    const uint64_t head_before = header->head.load();
    const uint64_t tail = header->tail.load();
    const absl::StatusOr<std::optional<RingReader::Entry>> result =
        (*reader)->Pop(absl::MakeSpan(out.get(), out_size));
    if (observe) {
      observe({result, absl::MakeConstSpan(out.get(), out_size), head_before,
               header->head.load(), tail, data});
    }
    if (!result.ok()) {
      run.pop = result.status();
      return false;
    }
    if (!result->has_value()) return false;
    ++run.entries;
    return true;
  };

  uint64_t producer_tail = 0;
  size_t pos = 0;
  bool script_ok = true;
  while (script_ok && run.pop.ok() && pos < ops.size()) {
    switch (static_cast<RingOp>(ops[pos++] % kRingOps)) {
      case RingOp::kWrite: {
        uint16_t offset;
        uint8_t count;
        script_ok = Take(ops, &pos, &offset) && Take(ops, &pos, &count) &&
                    ops.size() - pos >= count;
        if (!script_ok) break;
        const uint64_t at = offset % capacity;
        const size_t m = std::min<uint64_t>(count, capacity - at);
        std::memcpy(data.data() + at, ops.data() + pos, m);
        pos += count;
        break;
      }
      case RingOp::kAppend: {
        uint16_t length;
        uint8_t kind;
        script_ok = Take(ops, &pos, &length) && Take(ops, &pos, &kind);
        if (!script_ok) break;
        const uint64_t need = kEntryHeaderBytes + AlignUp(length);
        if (need > capacity) break;  // RingWriter never writes it either
        const uint64_t to_end = capacity - producer_tail % capacity;
        if (need > to_end) {
          PutEntry(data, producer_tail % capacity,
                   static_cast<uint32_t>(to_end - kEntryHeaderBytes),
                   ring_layout::kKindPad, /*fill=*/false);
          producer_tail += to_end;
        }
        PutEntry(data, producer_tail % capacity, length, kind, /*fill=*/true);
        producer_tail += need;
        break;
      }
      case RingOp::kPublish:
        header->tail.store(producer_tail);
        break;
      case RingOp::kSetTail: {
        uint64_t tail;
        script_ok = Take(ops, &pos, &tail);
        if (script_ok) header->tail.store(tail);
        break;
      }
      case RingOp::kPop:
        pop();
        break;
    }
  }
  // Drain as a Port does. Each entry is at least 8 bytes of at most
  // `capacity` published, so a correct reader is empty or failed by then.
  for (uint64_t k = 0; run.pop.ok() && k <= capacity / kEntryHeaderBytes + 1;
       ++k) {
    if (!pop()) {
      run.drained = run.pop.ok();
      break;
    }
  }
  return run;
}

}  // namespace shmport::fuzz
