// Acceptance 4 of issue 14: hostile subscribers speaking the raw topic
// protocol. Each tries every way to write the publisher's segments (and
// scribbles garbage over every page it can map writable: its private
// copy), then tells one lie. The honest subscribers' checksums all hold,
// the publisher neither crashes nor leaks, and each liar is cut off with
// the reason for its lie.
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/topic_wire.h"
#include "common/unix_channel.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/topics/topic_harness.h"
#include "tests/util/eventually.h"
#include "tests/util/process_census.h"

namespace shmport::testing {
namespace {

using ::testing::HasSubstr;
namespace tw = topic_wire;

constexpr int kHonest = 3;
constexpr uint64_t kSamples = 3'000;
constexpr uint64_t kMaxSize = 64 * 1024;

enum class Lie {
  kReleaseNeverDelivered,
  kReleaseTwice,
  kReleaseBeforeHello,
  kWrongVersion,
  kPublisherRole,
  kSecondHello,
  kPublisherMessage,
  kUnknownType,
  kReleaseWithFd,
  kOversized,
};

struct Case {
  Lie lie;
  const char* reason;  // what the publisher's CUT_OFF must say
};

const Case kCases[] = {
    {Lie::kReleaseNeverDelivered, "which it does not hold"},
    {Lie::kReleaseTwice, "which it does not hold"},
    {Lie::kReleaseBeforeHello, "RELEASE before HELLO"},
    {Lie::kWrongVersion, "topic protocol version 77"},
    {Lie::kPublisherRole, "HELLO with role 1"},
    {Lie::kSecondHello, "a second HELLO"},
    {Lie::kPublisherMessage, "SAMPLE, which only a publisher sends"},
    {Lie::kUnknownType, "unknown topic message type 200"},
    {Lie::kReleaseWithFd, "RELEASE came with 1 fds"},
    {Lie::kOversized, "truncated"},
};

absl::Status SendHello(UnixChannel& channel, uint16_t version, uint16_t role) {
  tw::TopicHello hello{};
  hello.protocol_version = version;
  hello.role = role;
  return channel.Send(tw::Message(tw::Type::kHello).Put(hello).bytes());
}

absl::Status SendRelease(UnixChannel& channel, uint64_t sequence,
                         absl::Span<const int> fds = {}) {
  return channel.Send(tw::Message(tw::Type::kRelease).Put(sequence).bytes(),
                      fds);
}

// Every way to write a segment the publisher shares; each success is
// counted (and its garbage would show in the honest checksums).
void Attack(int fd, uint64_t size, SubscriberReport* report) {
  auto scribble = [&](void* p) {
    std::memset(p, 0x5a, size);
    ++report->shared_writes;
  };
  void* rw = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (rw != MAP_FAILED) scribble(rw);
  void* ro = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  if (ro != MAP_FAILED) {
    if (::mprotect(ro, size, PROT_READ | PROT_WRITE) == 0) scribble(ro);
    ::munmap(ro, size);
  }
  const std::string garbage(4096, 'x');
  if (::pwrite(fd, garbage.data(), garbage.size(), 0) > 0) {
    ++report->shared_writes;
  }
  if (::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, size) ==
      0) {
    ++report->shared_writes;
  }
  if (::ftruncate(fd, 0) == 0) ++report->shared_writes;
  UniqueFd reopened(
      ::open(absl::StrCat("/proc/self/fd/", fd).c_str(), O_RDWR | O_CLOEXEC));
  if (reopened.valid()) {
    void* again = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED,
                         reopened.get(), 0);
    if (again != MAP_FAILED) scribble(again);
  }
  // Its own copy-on-write pages: writable, and nobody else's business.
  void* mine =
      ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  if (mine != MAP_FAILED) {
    std::memset(mine, 0xa5, size);
    report->pages_scribbled += size / 4096;
    ::munmap(mine, size);
  }
}

// Tells `lie` once it has the first shared sample (so its segment was
// attacked), then reads until the CUT_OFF and reports its reason.
SubscriberReport Hostile(UniqueFd socket, Lie lie) {
  SubscriberReport report;
  UnixChannel channel(std::move(socket));
  if (lie == Lie::kReleaseBeforeHello) (void)SendRelease(channel, 1);
  if (lie == Lie::kWrongVersion) (void)SendHello(channel, 77, 2);
  if (lie == Lie::kPublisherRole) (void)SendHello(channel, 1, 1);
  if (lie > Lie::kPublisherRole || lie < Lie::kReleaseBeforeHello) {
    (void)SendHello(channel, 1, 2);
  }
  std::vector<uint8_t> buffer(tw::kMaxMessageBytes);
  uint64_t segment_size = 0;
  bool lied = lie == Lie::kReleaseBeforeHello || lie == Lie::kWrongVersion ||
              lie == Lie::kPublisherRole;
  for (;;) {
    auto got = channel.Receive(absl::MakeSpan(buffer));
    if (!got.ok() || !got->has_value()) break;
    auto m = tw::Decode(absl::MakeConstSpan(buffer.data(), (*got)->size),
                        static_cast<int>((*got)->fds.size()));
    if (!m.ok()) break;
    if (m->type == tw::Type::kHello) {
      const auto h = m->As<tw::TopicHello>();
      segment_size = static_cast<uint64_t>(h.chunk_size) * h.chunk_count;
    } else if (m->type == tw::Type::kNewSegment) {
      Attack((*got)->fds[0].get(), segment_size, &report);
    } else if (m->type == tw::Type::kCutOff) {
      report.error_code = static_cast<int32_t>(m->As<tw::CutOff>().code);
      const absl::string_view reason = m->reason();
      std::memcpy(report.error, reason.data(),
                  std::min(reason.size(), sizeof(report.error) - 1));
      break;
    } else if (m->type == tw::Type::kSample && !lied) {
      lied = true;
      ++report.received;
      const uint64_t seq = m->As<tw::SampleRef>().sequence;
      switch (lie) {
        case Lie::kReleaseNeverDelivered:
          (void)SendRelease(channel, seq + 100'000);
          break;
        case Lie::kReleaseTwice:
          (void)SendRelease(channel, seq);
          (void)SendRelease(channel, seq);
          break;
        case Lie::kSecondHello:
          (void)SendHello(channel, 1, 2);
          break;
        case Lie::kPublisherMessage: {
          tw::SampleRef ref{seq, 0, 0, 1};
          (void)channel.Send(tw::Message(tw::Type::kSample).Put(ref).bytes());
          break;
        }
        case Lie::kUnknownType: {
          uint8_t junk[16] = {200};
          (void)channel.Send(absl::MakeConstSpan(junk));
          break;
        }
        case Lie::kReleaseWithFd: {
          const int fd = (*got)->fds.empty() ? 0 : (*got)->fds[0].get();
          (void)SendRelease(channel, seq, absl::MakeConstSpan(&fd, 1));
          break;
        }
        case Lie::kOversized: {
          std::vector<uint8_t> big(4000, 7);
          (void)channel.Send(big);
          break;
        }
        default:
          break;
      }
    }
  }
  return report;
}

TEST(TopicHostileTest, LiarsAreCutOffWithTheirReasonOthersIntactNoLeak) {
  ProcessCensus census;
  std::vector<std::unique_ptr<SubscriberProcess>> honest, hostile;
  for (int i = 0; i < kHonest; ++i) {
    auto sub = SubscriberProcess::Start([](UniqueFd socket) {
      ReadPlan plan;
      plan.count = kSamples;
      return ReadSamples(std::move(socket), plan);
    });
    ASSERT_TRUE(sub.ok()) << sub.status();
    honest.push_back(std::move(*sub));
  }
  for (const Case& c : kCases) {
    auto sub = SubscriberProcess::Start([lie = c.lie](UniqueFd socket) {
      return Hostile(std::move(socket), lie);
    });
    ASSERT_TRUE(sub.ok()) << sub.status();
    hostile.push_back(std::move(*sub));
  }
  PublisherOptions options;
  options.geometry = {16 * 1024, 256};
  auto publisher = NewPublisher(options);
  ASSERT_NE(publisher, nullptr);
  uint64_t id = 1;
  for (auto& sub : honest) Open(Endpoint(*publisher), id++, sub->TakeSocket());
  for (auto& sub : hostile) Open(Endpoint(*publisher), id++, sub->TakeSocket());
  // Every sample in shared memory, so each liar has a segment to attack.
  for (uint64_t seq = 1; seq <= kSamples; ++seq) {
    auto buffer = publisher->Allocate(2048 + SizeFor(seq, kMaxSize));
    ASSERT_TRUE(buffer.ok()) << buffer.status();
    FillPayload(seq, buffer->span());
    ASSERT_TRUE(publisher->Publish(std::move(*buffer)).ok());
  }
  for (auto& sub : honest) {
    auto report = sub->Wait(absl::Seconds(30));
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_EQ(report->received, kSamples) << report->error;
    EXPECT_EQ(report->corrupt, 0u);
    EXPECT_EQ(report->out_of_order, 0u);
  }
  for (size_t i = 0; i < hostile.size(); ++i) {
    auto report = hostile[i]->Wait(absl::Seconds(30));
    ASSERT_TRUE(report.ok()) << report.status();
    SCOPED_TRACE(absl::StrCat("lie ", i));
    EXPECT_EQ(report->shared_writes, 0);
    if (report->received > 0) {
      EXPECT_GT(report->pages_scribbled, 0u);
    }
    EXPECT_THAT(report->error, HasSubstr(kCases[i].reason));
    EXPECT_NE(report->error_code, 0);
  }
  EXPECT_EQ(publisher->stats().subscriptions_cut_off, std::size(kCases));
  EXPECT_TRUE(
      Eventually([&] { return publisher->stats().chunks_in_use == 0; }));
  publisher.reset();
  honest.clear();
  hostile.clear();
  EXPECT_EQ(census.LeakedFds(), 0) << census.Describe();
  EXPECT_EQ(census.LeakedMappings(), 0) << census.Describe();
}

}  // namespace
}  // namespace shmport::testing
