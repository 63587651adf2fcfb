#include "common/segment.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <functional>

#include "common/syscalls.h"
#include "common/unix_channel.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/util/child_process.h"
#include "tests/util/process_census.h"

namespace shmport {
namespace {

using ::testing::HasSubstr;

constexpr SegmentGeometry kSmall{4096, 16};

Segment::Expectation ExpectationFor(const Segment& s) {
  return {s.id(), s.file_size(), s.token(), s.geometry()};
}

// Duplicates the owner's memfd, as if it had crossed a socket.
UniqueFd DupFd(const Segment& s) {
  return UniqueFd(::fcntl(s.fd(), F_DUPFD_CLOEXEC, 0));
}

// Builds a memfd that looks like a segment, then lets `mutate` spoil it.
struct Crafted {
  UniqueFd fd;
  Segment::Expectation expect;
};
Crafted Craft(const std::function<void(layout::SegmentInfo&)>& mutate,
              int seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL,
              uint64_t file_size = kSmall.file_size()) {
  Crafted c;
  c.fd.Reset(
      ::memfd_create("shmport-crafted", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  EXPECT_TRUE(c.fd.valid());
  EXPECT_EQ(::ftruncate(c.fd.get(), file_size), 0);
  layout::SegmentInfo info{};
  info.magic = layout::kMagic;
  info.version = layout::kVersion;
  info.header_size = layout::kHeaderSize;
  info.chunk_size = kSmall.chunk_size;
  info.chunk_count = kSmall.chunk_count;
  info.segment_id = 5;
  info.tracking_slots = layout::kTrackingSlots;
  info.token = 0xfeed;
  mutate(info);
  EXPECT_EQ(::pwrite(c.fd.get(), &info, sizeof(info), 0),
            static_cast<ssize_t>(sizeof(info)));
  if (seals != 0) {
    EXPECT_EQ(::fcntl(c.fd.get(), F_ADD_SEALS, seals), 0);
  }
  c.expect = {5, kSmall.file_size(), 0xfeed, kSmall};
  return c;
}

TEST(SegmentTest, CreateInitialisesTheHeader) {
  auto seg = Segment::Create(3, kSmall, 1234);
  ASSERT_TRUE(seg.ok()) << seg.status();
  const layout::SegmentInfo& info = (*seg)->header()->info;
  EXPECT_EQ(info.magic, layout::kMagic);
  EXPECT_EQ(info.version, layout::kVersion);
  EXPECT_EQ(info.header_size, layout::kHeaderSize);
  EXPECT_EQ(info.chunk_size, 4096u);
  EXPECT_EQ(info.chunk_count, 16u);
  EXPECT_EQ(info.segment_id, 3u);
  EXPECT_EQ(info.creator_pid, ::getpid());
  EXPECT_EQ(info.peer_pid, 1234);
  EXPECT_NE(info.token, 0u);
  EXPECT_EQ(info.token, (*seg)->token());
  EXPECT_EQ((*seg)->chunks().CountFree(), 16u);
  EXPECT_EQ((*seg)->tracking_slots().CountFree(), layout::kTrackingSlots);
  EXPECT_EQ((*seg)->oosm().load(), 0u);
  // Chunk 0 starts right after the header.
  EXPECT_EQ((*seg)->chunk_data(0),
            reinterpret_cast<uint8_t*>((*seg)->header()) + layout::kHeaderSize);
}

TEST(SegmentTest, CreateRejectsAbsurdGeometry) {
  for (SegmentGeometry g :
       {SegmentGeometry{3000, 16}, SegmentGeometry{4096, 0},
        SegmentGeometry{4096, layout::kMaxChunks + 1},
        SegmentGeometry{8u << 20, 16}, SegmentGeometry{4u << 20, 4096}}) {
    auto seg = Segment::Create(1, g, 0);
    EXPECT_EQ(seg.status().code(), absl::StatusCode::kInvalidArgument)
        << g.chunk_size << "x" << g.chunk_count;
  }
}

TEST(SegmentTest, MemfdIsSealedAgainstShrinkAndGrow) {
  auto seg = Segment::Create(1, kSmall, 0);
  ASSERT_TRUE(seg.ok());
  EXPECT_EQ(::ftruncate((*seg)->fd(), 4096), -1);
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(::ftruncate((*seg)->fd(), 1 << 30), -1);
  const int seals = ::fcntl((*seg)->fd(), F_GET_SEALS);
  EXPECT_EQ(seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
            F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
}

TEST(SegmentTest, SecondProcessReceivesTheFdAndSeesTheWritersBytes) {
  testing::ProcessCensus census;
  auto pair = UnixChannel::Pair();
  ASSERT_TRUE(pair.ok());
  // Not a structured binding: clang 14 cannot capture one in a lambda.
  UnixChannel& parent_end = pair->first;
  UnixChannel& child_end = pair->second;
  auto seg = Segment::Create(9, kSmall, 0);
  ASSERT_TRUE(seg.ok());
  const Segment::Expectation expect = ExpectationFor(**seg);

  auto child = testing::ChildProcess::Fork([&]() -> int {
    parent_end.Close();
    uint8_t buf[16];
    auto got = child_end.Receive(absl::MakeSpan(buf));
    if (!got.ok() || !got->has_value() || (*got)->fds.size() != 1) return 2;
    auto peer = Segment::Open(std::move((*got)->fds[0]), expect);
    if (!peer.ok()) return 3;
    const uint8_t* data = (*peer)->chunk_data(2);
    for (int i = 0; i < 4096; ++i) {
      if (data[i] != static_cast<uint8_t>(i * 7)) return 4;
    }
    // The receiver frees in place: the owner sees the chunk come back.
    if (!(*peer)->chunks().Free(2, 1)) return 5;
    const uint8_t ack = 1;
    if (!child_end.Send(absl::MakeConstSpan(&ack, 1)).ok()) return 6;
    return 0;
  });
  child_end.Close();

  ASSERT_EQ((*seg)->chunks().Allocate(3), 0u);  // chunks 0..2
  for (int i = 0; i < 4096; ++i) {
    (*seg)->chunk_data(2)[i] = static_cast<uint8_t>(i * 7);
  }
  const int fd = (*seg)->fd();
  const uint8_t note = 0;
  ASSERT_TRUE(
      parent_end
          .Send(absl::MakeConstSpan(&note, 1), absl::MakeConstSpan(&fd, 1))
          .ok());
  (*seg)->CloseFd();  // sent once; the mapping lives on
  uint8_t buf[4];
  auto ack = parent_end.Receive(absl::MakeSpan(buf));
  ASSERT_TRUE(ack.ok()) << ack.status();
  EXPECT_EQ(child.Wait(), "exit 0");
  EXPECT_TRUE((*seg)->chunks().IsFree(2));
  EXPECT_FALSE((*seg)->chunks().IsFree(1));
  seg->reset();
  parent_end.Close();
  EXPECT_EQ(census.LeakedFds(), 0) << census.Describe();
  EXPECT_EQ(census.LeakedMappings(), 0);
}

TEST(SegmentTest, PeerCannotWriteTheDataArea) {
  auto seg = Segment::Create(1, kSmall, 0);
  ASSERT_TRUE(seg.ok());
  auto peer = Segment::Open(DupFd(**seg), ExpectationFor(**seg));
  ASSERT_TRUE(peer.ok()) << peer.status();
  EXPECT_EQ((*peer)->role(), Segment::Role::kPeer);
  EXPECT_EQ((*peer)->fd(), -1);  // the peer keeps no fd
  // The header is writable (the peer frees chunks)...
  (*peer)->chunks().Free(0, 1);
  // ...the data area is not: a write there faults.
  auto child = testing::ChildProcess::Fork([&]() -> int {
    ::signal(SIGSEGV, SIG_DFL);  // sanitizers install their own handler
    (*peer)->chunk_data(0)[0] = 1;
    return 0;
  });
  EXPECT_EQ(child.Wait(), "signal 11");
}

struct RejectCase {
  const char* name;
  std::function<Crafted()> make;
  const char* message;
};

class SegmentRejectTest : public ::testing::TestWithParam<RejectCase> {};

TEST_P(SegmentRejectTest, IsRefusedWithAPreciseErrorAndNoLeak) {
  testing::ProcessCensus census;
  {
    Crafted c = GetParam().make();
    auto seg = Segment::Open(std::move(c.fd), c.expect);
    ASSERT_FALSE(seg.ok());
    EXPECT_THAT(std::string(seg.status().message()),
                HasSubstr(GetParam().message));
  }
  EXPECT_EQ(census.LeakedFds(), 0) << census.Describe();
  EXPECT_EQ(census.LeakedMappings(), 0);
}

auto Noop = [](layout::SegmentInfo&) {};

INSTANTIATE_TEST_SUITE_P(
    Cases, SegmentRejectTest,
    ::testing::Values(
        RejectCase{"Unsealed", [] { return Craft(Noop, 0); },
                   "fd seals are 0x0"},
        RejectCase{"OnlyShrinkSeal", [] { return Craft(Noop, F_SEAL_SHRINK); },
                   "need F_SEAL_SHRINK|F_SEAL_GROW"},
        RejectCase{"SizeDiffers",
                   [] {
                     return Craft(Noop, F_SEAL_SHRINK | F_SEAL_GROW,
                                  kSmall.file_size() - 4096);
                   },
                   "file size 69632, declared size 73728"},
        RejectCase{"DeclaredSizeDiffers",
                   [] {
                     Crafted c = Craft(Noop);
                     c.expect.size += 4096;
                     return c;
                   },
                   "declared size 77824"},
        RejectCase{"BadMagic",
                   [] { return Craft([](auto& i) { i.magic = 0x1234; }); },
                   "bad magic 0x0000000000001234"},
        RejectCase{"BadVersion",
                   [] { return Craft([](auto& i) { i.version = 99; }); },
                   "header version is 99, expected 1"},
        RejectCase{"BadHeaderSize",
                   [] { return Craft([](auto& i) { i.header_size = 64; }); },
                   "header header_size is 64"},
        RejectCase{"ChunkSizeMismatch",
                   [] { return Craft([](auto& i) { i.chunk_size = 8192; }); },
                   "header chunk_size is 8192, expected 4096"},
        RejectCase{
            "ChunkCountMismatch",
            [] { return Craft([](auto& i) { i.chunk_count = 1u << 30; }); },
            "header chunk_count is 1073741824, expected 16"},
        RejectCase{"AbsurdExpectedGeometry",
                   [] {
                     Crafted c = Craft(Noop);
                     c.expect.geometry.chunk_count = 0;
                     return c;
                   },
                   "chunk_count 0 out of range"},
        RejectCase{"WrongId",
                   [] { return Craft([](auto& i) { i.segment_id = 6; }); },
                   "header segment_id is 6, expected 5"},
        RejectCase{"WrongToken",
                   [] { return Craft([](auto& i) { i.token = 1; }); },
                   "token does not match"},
        RejectCase{"NotAMemfd",
                   [] {
                     int p[2];
                     EXPECT_EQ(::pipe2(p, O_CLOEXEC), 0);
                     ::close(p[1]);
                     Crafted c;
                     c.fd.Reset(p[0]);
                     c.expect = {5, kSmall.file_size(), 0xfeed, kSmall};
                     return c;
                   },
                   "is the fd a memfd?"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(SegmentFaultTest, FailedSystemCallsReleaseEverything) {
  testing::ProcessCensus census;
  struct Case {
    sys::Call call;
    int error;
    absl::StatusCode code;
  };
  for (Case c :
       {Case{sys::Call::kMemfdCreate, EMFILE,
             absl::StatusCode::kResourceExhausted},
        Case{sys::Call::kMemfdCreate, ENOSYS, absl::StatusCode::kUnimplemented},
        Case{sys::Call::kFtruncate, ENOSPC,
             absl::StatusCode::kResourceExhausted},
        Case{sys::Call::kMmap, ENOMEM, absl::StatusCode::kResourceExhausted}}) {
    sys::ScopedFailure failure(c.call, c.error);
    auto seg = Segment::Create(1, kSmall, 0);
    EXPECT_EQ(seg.status().code(), c.code) << seg.status();
  }
  // The peer side: mmap failure while opening a valid segment.
  auto seg = Segment::Create(1, kSmall, 0);
  ASSERT_TRUE(seg.ok());
  {
    sys::ScopedFailure failure(sys::Call::kMmap, ENOMEM);
    auto peer = Segment::Open(DupFd(**seg), ExpectationFor(**seg));
    EXPECT_EQ(peer.status().code(), absl::StatusCode::kResourceExhausted);
  }
  seg->reset();
  EXPECT_EQ(census.LeakedFds(), 0) << census.Describe();
  EXPECT_EQ(census.LeakedMappings(), 0);
}

TEST(SegmentTest, MemfdCreateMissingGivesAClearError) {
  sys::ScopedFailure failure(sys::Call::kMemfdCreate, ENOSYS);
  auto seg = Segment::Create(1, kSmall, 0);
  EXPECT_THAT(std::string(seg.status().message()), HasSubstr("Linux >= 3.17"));
}

TEST(SegmentTest, DiscardReturnsPagesAndTheyReadAsZero) {
  auto seg = Segment::Create(1, kSmall, 0);
  ASSERT_TRUE(seg.ok());
  std::memset((*seg)->chunk_data(3), 0xab, 2 * 4096);
  ASSERT_TRUE((*seg)->Discard(3, 2).ok());
  EXPECT_EQ((*seg)->chunk_data(3)[0], 0);
  EXPECT_EQ((*seg)->chunk_data(4)[4095], 0);
  EXPECT_FALSE((*seg)->Discard(15, 2).ok());
}

}  // namespace
}  // namespace shmport
