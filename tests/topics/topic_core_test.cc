// The topic data plane's building blocks: segments no subscriber can write,
// the wire framing, and one publisher/subscriber pair in one process.
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "absl/time/time.h"
#include "client/topic_access.h"
#include "client/topic_publisher_core.h"
#include "client/topic_segment.h"
#include "client/topic_subscriber_core.h"
#include "client/topic_wire.h"
#include "common/unix_channel.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/topics/topic_harness.h"
#include "tests/util/eventually.h"

namespace shmport {
namespace {

using internal::TopicSegment;
using ::testing::HasSubstr;

constexpr uint64_t kSize = 64 * 1024;

UniqueFd Dup(int fd) { return UniqueFd(::fcntl(fd, F_DUPFD_CLOEXEC, 0)); }

TEST(TopicSegmentTest, SubscriberCannotMapItWritable) {
  auto segment = TopicSegment::Create(0, kSize);
  ASSERT_TRUE(segment.ok()) << segment.status();
  UniqueFd fd = Dup((*segment)->fd());
  errno = 0;
  EXPECT_EQ(
      ::mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0),
      MAP_FAILED);
  EXPECT_EQ(errno, EPERM);
}

TEST(TopicSegmentTest, ReadOnlyMappingCannotBeMadeWritable) {
  auto segment = TopicSegment::Create(0, kSize);
  ASSERT_TRUE(segment.ok()) << segment.status();
  void* ro = ::mmap(nullptr, kSize, PROT_READ, MAP_SHARED, (*segment)->fd(), 0);
  ASSERT_NE(ro, MAP_FAILED);
  EXPECT_NE(::mprotect(ro, kSize, PROT_READ | PROT_WRITE), 0);
  ::munmap(ro, kSize);
}

TEST(TopicSegmentTest, SubscriberCannotWriteResizeOrPunchTheFile) {
  auto segment = TopicSegment::Create(0, kSize);
  ASSERT_TRUE(segment.ok()) << segment.status();
  const int fd = (*segment)->fd();
  const char garbage[8] = "garbage";
  EXPECT_LT(::pwrite(fd, garbage, sizeof(garbage), 0), 0);
  EXPECT_NE(::ftruncate(fd, 0), 0);
  EXPECT_NE(::ftruncate(fd, 2 * kSize), 0);
  EXPECT_NE(
      ::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, kSize), 0);
  // Reopening the file does not help: the seals are on the inode.
  UniqueFd reopened(::open(("/proc/self/fd/" + std::to_string(fd)).c_str(),
                           O_RDWR | O_CLOEXEC));
  ASSERT_TRUE(reopened.valid());
  EXPECT_EQ(::mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_SHARED,
                   reopened.get(), 0),
            MAP_FAILED);
}

TEST(TopicSegmentTest, PublisherMappingStaysWritable) {
  auto segment = TopicSegment::Create(0, kSize);
  ASSERT_TRUE(segment.ok()) << segment.status();
  std::memset((*segment)->data(), 0xab, kSize);
  auto opened = TopicSegment::Open(0, Dup((*segment)->fd()), kSize);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ((*opened)->data()[kSize - 1], 0xab);
}

TEST(TopicSegmentTest, OpenRefusesAnUnsealedMemfd) {
  UniqueFd fd(::memfd_create("plain", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  ASSERT_EQ(::ftruncate(fd.get(), kSize), 0);
  ASSERT_EQ(::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
  auto opened = TopicSegment::Open(3, std::move(fd), kSize);
  ASSERT_FALSE(opened.ok());
  EXPECT_THAT(opened.status().message(), HasSubstr("FUTURE_WRITE"));
}

TEST(TopicSegmentTest, OpenRefusesAWrongSize) {
  auto segment = TopicSegment::Create(0, kSize);
  ASSERT_TRUE(segment.ok()) << segment.status();
  auto opened = TopicSegment::Open(0, Dup((*segment)->fd()), 2 * kSize);
  ASSERT_FALSE(opened.ok());
  EXPECT_THAT(opened.status().message(), HasSubstr("file size"));
}

TEST(TopicWireTest, DecodeChecksLengthTypeAndFds) {
  topic_wire::Message m(topic_wire::Type::kRelease);
  m.Put(uint64_t{7});
  absl::Span<const uint8_t> ok = m.bytes();
  EXPECT_TRUE(topic_wire::Decode(ok, 0).ok());
  EXPECT_FALSE(topic_wire::Decode(ok, 1).ok());                 // an fd
  EXPECT_FALSE(topic_wire::Decode(ok.subspan(0, 12), 0).ok());  // short
  std::vector<uint8_t> bad(ok.begin(), ok.end());
  bad[0] = 99;
  EXPECT_THAT(topic_wire::Decode(bad, 0).status().message(),
              HasSubstr("unknown topic message type 99"));
  bad[0] = static_cast<uint8_t>(topic_wire::Type::kRelease);
  bad.push_back(0);  // 9 body bytes: not a whole u64
  bad[4] = 9;
  EXPECT_FALSE(topic_wire::Decode(bad, 0).ok());
}

TEST(TopicCoreTest, OneSubscriberInProcessGetsEverySampleAndGivesItBack) {
  PublisherOptions options;
  options.geometry = {4096, 64};
  auto publisher = testing::NewPublisher(options);
  ASSERT_NE(publisher, nullptr);
  auto pair = UnixChannel::Pair();
  ASSERT_TRUE(pair.ok());
  auto core = internal::SubscriberCore::Create("t/test", {});
  ASSERT_TRUE(core.ok());
  testing::Open(**core, 1, pair->second.TakeFd());
  testing::Open(testing::Endpoint(*publisher), 1, pair->first.TakeFd());
  for (uint64_t seq = 1; seq <= 200; ++seq) {
    const uint64_t size = seq % 2 ? 100 : 10000;  // inline, shared
    auto buffer = publisher->Allocate(size, absl::Seconds(5));
    ASSERT_TRUE(buffer.ok()) << buffer.status();
    testing::FillPayload(seq, buffer->span());
    ASSERT_TRUE(publisher->Publish(std::move(*buffer)).ok());
    auto sample = (*core)->Receive(internal::Deadline(absl::Seconds(5)), true);
    ASSERT_TRUE(sample.ok()) << sample.status();
    EXPECT_EQ(sample->sequence(), seq);
    EXPECT_EQ(sample->in_shared_memory(), size > options.inline_threshold);
    EXPECT_TRUE(testing::CheckPayload(seq, sample->data()));
  }
  EXPECT_TRUE(testing::Eventually(
      [&] { return publisher->stats().chunks_in_use == 0; }));
}

}  // namespace
}  // namespace shmport
