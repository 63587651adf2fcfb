#include "common/ring.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/util/process_census.h"

namespace shmport {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<RingReader> ReaderFor(const RingWriter& w) {
  auto r = RingReader::Open(UniqueFd(::fcntl(w.fd(), F_DUPFD_CLOEXEC, 0)),
                            w.file_size(), w.token());
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *std::move(r) : nullptr;
}

bool Append(RingWriter& w, const std::string& text) {
  const iovec part{const_cast<char*>(text.data()), text.size()};
  return w.TryAppend(ring_layout::kKindMessage, absl::MakeConstSpan(&part, 1));
}

std::string PopText(RingReader& r) {
  std::vector<uint8_t> buf(70000);
  auto e = r.Pop(absl::MakeSpan(buf));
  if (!e.ok()) return "error: " + std::string(e.status().message());
  if (!e->has_value()) return "<empty>";
  if ((*e)->kind == ring_layout::kKindSocketMarker) return "<marker>";
  return std::string(reinterpret_cast<char*>(buf.data()), (*e)->length);
}

TEST(RingTest, EntriesArriveInOrderAcrossManyWraps) {
  auto w = RingWriter::Create(4096);
  ASSERT_TRUE(w.ok());
  auto r = ReaderFor(**w);
  ASSERT_NE(r, nullptr);
  for (int i = 0; i < 5000; ++i) {
    const std::string text(1 + i % 300, 'a' + i % 26);
    ASSERT_TRUE(Append(**w, text)) << i;
    (*w)->Publish();
    ASSERT_EQ(PopText(*r), text) << i;
  }
  EXPECT_EQ(PopText(*r), "<empty>");
  EXPECT_TRUE((*w)->Drained());
}

TEST(RingTest, FullRingRefusesEntriesButAlwaysTakesAMarker) {
  auto w = RingWriter::Create(4096);
  ASSERT_TRUE(w.ok());
  auto r = ReaderFor(**w);
  int appended = 0;
  while (Append(**w, std::string(100, 'x'))) ++appended;
  EXPECT_GT(appended, 30);
  EXPECT_LT(appended, 4096 / 100);
  (*w)->AppendMarker();  // the reserved room
  (*w)->Publish();
  EXPECT_FALSE((*w)->Drained());
  for (int i = 0; i < appended; ++i)
    ASSERT_EQ(PopText(*r), std::string(100, 'x'));
  EXPECT_EQ(PopText(*r), "<marker>");
  EXPECT_TRUE((*w)->Drained());
  EXPECT_TRUE(Append(**w, "after"));  // room again
}

TEST(RingTest, EntryLargerThanTheRingNeverFits) {
  auto w = RingWriter::Create(4096);
  ASSERT_TRUE(w.ok());
  EXPECT_FALSE(Append(**w, std::string(5000, 'y')));
}

TEST(RingTest, ReaderRefusesImpossibleTails) {
  auto w = RingWriter::Create(4096);
  ASSERT_TRUE(w.ok());
  auto r = ReaderFor(**w);
  auto* h = reinterpret_cast<ring_layout::RingHeader*>(
      ::mmap(nullptr, (*w)->file_size(), PROT_READ | PROT_WRITE, MAP_SHARED,
             (*w)->fd(), 0));
  ASSERT_NE(h, MAP_FAILED);
  h->tail.store(1 << 20);  // beyond the capacity
  EXPECT_THAT(PopText(*r), HasSubstr("impossible for head 0"));
  h->tail.store(16);  // an entry header claiming more than was published
  uint32_t entry[2] = {100, ring_layout::kKindMessage};
  std::memcpy(reinterpret_cast<uint8_t*>(h) + ring_layout::kRingHeaderSize,
              entry, sizeof(entry));
  EXPECT_THAT(PopText(*r), HasSubstr("runs past what was published"));
  entry[0] = 0;
  entry[1] = 77;
  std::memcpy(reinterpret_cast<uint8_t*>(h) + ring_layout::kRingHeaderSize,
              entry, sizeof(entry));
  h->tail.store(8);
  EXPECT_THAT(PopText(*r), HasSubstr("unknown entry kind 77"));
  ::munmap(h, (*w)->file_size());
}

TEST(RingTest, WriterDetectsAnImpossibleHead) {
  auto w = RingWriter::Create(4096);
  ASSERT_TRUE(w.ok());
  auto* h = reinterpret_cast<ring_layout::RingHeader*>(
      ::mmap(nullptr, (*w)->file_size(), PROT_READ | PROT_WRITE, MAP_SHARED,
             (*w)->fd(), 0));
  ASSERT_NE(h, MAP_FAILED);
  h->head.store(999999);  // ahead of anything written
  EXPECT_FALSE(Append(**w, "x"));
  EXPECT_TRUE((*w)->corrupt());
  ::munmap(h, (*w)->file_size());
}

TEST(RingTest, OpenValidatesTheMemfd) {
  testing::ProcessCensus census;
  {
    auto w = RingWriter::Create(8192);
    ASSERT_TRUE(w.ok());
    auto dup = [&] {
      return UniqueFd(::fcntl((*w)->fd(), F_DUPFD_CLOEXEC, 0));
    };
    EXPECT_THAT(std::string(RingReader::Open(dup(), (*w)->file_size() + 4096,
                                             (*w)->token())
                                .status()
                                .message()),
                HasSubstr("declared size"));
    EXPECT_THAT(
        std::string(
            RingReader::Open(dup(), (*w)->file_size(), 5).status().message()),
        HasSubstr("token does not match"));
    UniqueFd unsealed(::memfd_create("x", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    ASSERT_EQ(::ftruncate(unsealed.get(), 8192 + 4096), 0);
    EXPECT_THAT(
        std::string(RingReader::Open(std::move(unsealed), 8192 + 4096, 1)
                        .status()
                        .message()),
        HasSubstr("need F_SEAL_SHRINK|F_SEAL_GROW"));
    UniqueFd bad(::memfd_create("x", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    ASSERT_EQ(::ftruncate(bad.get(), 8192 + 4096), 0);
    ASSERT_EQ(::fcntl(bad.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
    EXPECT_THAT(std::string(RingReader::Open(std::move(bad), 8192 + 4096, 1)
                                .status()
                                .message()),
                HasSubstr("bad magic"));
    EXPECT_FALSE(RingWriter::Create(5000).ok());  // not a power of two
  }
  EXPECT_EQ(census.LeakedFds(), 0) << census.Describe();
}

// The sleep/wake handshake under contention: the consumer sleeps whenever
// the ring is empty, and the producer must wake it every time (a pipe
// stands in for the socket). A lost wake-up shows as a consumer stuck in
// poll until the generous bound.
TEST(RingConcurrencyTest, NoLostWakeUpBetweenSleepAndPublish) {
  auto w = RingWriter::Create(4096);
  ASSERT_TRUE(w.ok());
  auto r = ReaderFor(**w);
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  constexpr int kEntries = 200000;
  std::atomic<int> lost{0};
  std::atomic<int> wakes{0};
  std::thread consumer([&] {
    std::vector<uint8_t> buf(128);
    int next = 0;
    while (next < kEntries) {
      auto e = r->Pop(absl::MakeSpan(buf));
      if (!e.ok()) {
        lost++;
        return;
      }
      if (e->has_value()) {
        int value;
        std::memcpy(&value, buf.data(), sizeof(value));
        if (value != next) lost++;
        ++next;
        continue;
      }
      if (!r->PrepareToSleep()) continue;
      pollfd p{pipe_fds[0], POLLIN, 0};
      if (::poll(&p, 1, 10000) != 1) {
        lost++;  // nobody woke us although entries were coming
        return;
      }
      char c;
      [[maybe_unused]] ssize_t n = ::read(pipe_fds[0], &c, 1);
      r->Awake();
    }
  });
  for (int i = 0; i < kEntries;) {
    const iovec part{&i, sizeof(i)};
    if (!(*w)->TryAppend(ring_layout::kKindMessage,
                         absl::MakeConstSpan(&part, 1))) {
      std::this_thread::yield();  // full: the consumer is busy, not asleep
      continue;
    }
    if ((*w)->Publish()) {
      wakes++;
      [[maybe_unused]] ssize_t n = ::write(pipe_fds[1], "w", 1);
    }
    ++i;
  }
  consumer.join();
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
  EXPECT_EQ(lost.load(), 0);
  EXPECT_GT(wakes.load(), 0);  // the consumer really slept
}

}  // namespace
}  // namespace shmport
