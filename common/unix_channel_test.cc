#include "common/unix_channel.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/errors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/util/child_process.h"
#include "tests/util/process_census.h"

namespace shmport {
namespace {

using ::testing::HasSubstr;

TEST(UnixChannelTest, FdsAndCredentialsCrossBetweenProcesses) {
  testing::ProcessCensus census;
  auto pair = UnixChannel::Pair();
  ASSERT_TRUE(pair.ok());
  // Not a structured binding: clang 14 cannot capture one in a lambda.
  UnixChannel& parent_end = pair->first;
  UnixChannel& child_end = pair->second;
  ASSERT_TRUE(parent_end.SetPassCredentials(true).ok());

  auto child = testing::ChildProcess::Fork([&]() -> int {
    parent_end.Close();
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return 2;
    if (::write(p[1], "hello", 5) != 5) return 3;
    const char msg[] = "here is a pipe";
    const int fds[] = {p[0]};
    absl::Status s = child_end.Send(
        absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(msg), sizeof(msg)),
        fds, /*with_credentials=*/true);
    return s.ok() ? 0 : 4;
  });
  child_end.Close();

  uint8_t buf[64];
  auto got = parent_end.Receive(absl::MakeSpan(buf));
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  ReceivedMessage& m = **got;
  EXPECT_STREQ(reinterpret_cast<char*>(buf), "here is a pipe");
  ASSERT_EQ(m.fds.size(), 1u);
  // The kernel reports the child's real identity.
  ASSERT_TRUE(m.credentials.has_value());
  EXPECT_EQ(m.credentials->pid, child.pid());
  EXPECT_EQ(m.credentials->uid, ::geteuid());
  // The fd is close-on-exec and really is the pipe the child wrote to.
  EXPECT_TRUE(::fcntl(m.fds[0].get(), F_GETFD) & FD_CLOEXEC);
  char text[8] = {};
  EXPECT_EQ(::read(m.fds[0].get(), text, sizeof(text)), 5);
  EXPECT_STREQ(text, "hello");
  EXPECT_EQ(child.Wait(), "exit 0");
  // The child is gone: the next receive reports the closed peer.
  auto eof = parent_end.Receive(absl::MakeSpan(buf));
  EXPECT_EQ(eof.status().code(), absl::StatusCode::kUnavailable);
  m.fds.clear();
  parent_end.Close();
  EXPECT_EQ(census.LeakedFds(), 0) << census.Describe();
}

TEST(UnixChannelTest, MessagesSentBeforeAnAbruptCloseAreStillDelivered) {
  // The closing end leaves a message unread in its own queue, which makes
  // the kernel report ECONNRESET to us once, ahead of the queued data.
  auto pair = UnixChannel::Pair();
  ASSERT_TRUE(pair.ok());
  const uint8_t one = 1, two = 2;
  ASSERT_TRUE(pair->first.Send(absl::MakeConstSpan(&one, 1)).ok());
  ASSERT_TRUE(pair->second.Send(absl::MakeConstSpan(&two, 1)).ok());
  pair->first.Close();  // with `two` unread
  uint8_t buf[4];
  auto got = pair->second.Receive(absl::MakeSpan(buf), /*dont_wait=*/true);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(buf[0], 1);
  auto eof = pair->second.Receive(absl::MakeSpan(buf), /*dont_wait=*/true);
  EXPECT_EQ(eof.status().code(), absl::StatusCode::kUnavailable);
}

TEST(UnixChannelTest, CredentialsAbsentWithoutPassCred) {
  auto pair = UnixChannel::Pair();
  ASSERT_TRUE(pair.ok());
  const uint8_t b = 1;
  ASSERT_TRUE(pair->first.Send(absl::MakeConstSpan(&b, 1)).ok());
  uint8_t buf[4];
  auto got = pair->second.Receive(absl::MakeSpan(buf));
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_FALSE((*got)->credentials.has_value());
}

TEST(UnixChannelTest, PeerCredentialsNameTheOtherEndsCreator) {
  auto pair = UnixChannel::Pair();
  ASSERT_TRUE(pair.ok());
  auto cred = pair->first.PeerCredentials();
  ASSERT_TRUE(cred.ok());
  EXPECT_EQ(cred->pid, ::getpid());
}

TEST(UnixChannelTest, NonBlockingReceiveReportsNothingReady) {
  auto pair = UnixChannel::Pair();
  ASSERT_TRUE(pair.ok());
  uint8_t buf[4];
  auto got = pair->second.Receive(absl::MakeSpan(buf), /*dont_wait=*/true);
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value());
  ASSERT_TRUE(pair->second.SetNonBlocking(true).ok());
  got = pair->second.Receive(absl::MakeSpan(buf));
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value());
}

TEST(UnixChannelTest, FullSocketBufferIsWouldBlockForNonBlockingSend) {
  auto pair = UnixChannel::Pair();
  ASSERT_TRUE(pair.ok());
  std::vector<uint8_t> chunk(4096);
  absl::Status s;
  int sent = 0;
  while ((s = pair->first.Send(chunk, {}, false, /*dont_wait=*/true)).ok()) {
    ++sent;
    ASSERT_LT(sent, 100000);
  }
  EXPECT_GT(sent, 0);
  EXPECT_TRUE(IsWouldBlock(s)) << s;
}

TEST(UnixChannelTest, SendToAClosedPeerIsUnavailable) {
  auto pair = UnixChannel::Pair();
  ASSERT_TRUE(pair.ok());
  pair->second.Close();
  const uint8_t b = 1;
  absl::Status s = pair->first.Send(absl::MakeConstSpan(&b, 1));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(IsWouldBlock(s));
}

TEST(UnixChannelTest, TruncatedDatagramIsAnErrorAndItsFdsAreClosed) {
  testing::ProcessCensus census;
  {
    auto pair = UnixChannel::Pair();
    ASSERT_TRUE(pair.ok());
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    std::vector<uint8_t> big(100, 7);
    const int fds[] = {p[0], p[1]};
    ASSERT_TRUE(pair->first.Send(big, fds).ok());
    ::close(p[0]);
    ::close(p[1]);
    uint8_t small[10];
    auto got = pair->second.Receive(absl::MakeSpan(small));
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(got.status().message()),
                HasSubstr("larger than the 10-byte buffer"));
  }
  EXPECT_EQ(census.LeakedFds(), 0) << census.Describe();
}

TEST(UnixChannelTest, TooManyFdsIsControlTruncationAndAllAreClosed) {
  testing::ProcessCensus census;
  {
    auto pair = UnixChannel::Pair();
    ASSERT_TRUE(pair.ok());
    // Send more fds than the receiver makes room for, with raw sendmsg.
    constexpr int kCount = UnixChannel::kMaxFds * 2 + 8;
    int fds[kCount];
    for (int i = 0; i < kCount; ++i) fds[i] = ::open("/dev/null", O_RDONLY);
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(fds))] = {};
    uint8_t byte = 1;
    iovec iov{&byte, 1};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(fds));
    std::memcpy(CMSG_DATA(c), fds, sizeof(fds));
    ASSERT_EQ(::sendmsg(pair->first.fd(), &msg, 0), 1);
    for (int fd : fds) ::close(fd);
    uint8_t buf[16];
    auto got = pair->second.Receive(absl::MakeSpan(buf));
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(got.status().message()),
                HasSubstr("control data truncated"));
  }
  EXPECT_EQ(census.LeakedFds(), 0) << census.Describe();
}

// A receiver with no free fd slot (RLIMIT_NOFILE) also gets MSG_CTRUNC:
// the kernel drops the fd. That is the receiver's shortage, not the
// sender's excess, and Receive says so; with a slot free again, the next
// fd arrives.
TEST(UnixChannelTest, FdDroppedForWantOfASlotIsResourceExhausted) {
  auto pair = UnixChannel::Pair();
  ASSERT_TRUE(pair.ok());
  // Not a structured binding: clang 14 cannot capture one in a lambda.
  UnixChannel& parent_end = pair->first;
  UnixChannel& child_end = pair->second;
  for (int i = 0; i < 2; ++i) {
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    const uint8_t byte = static_cast<uint8_t>(i);
    const int fds[] = {p[0]};
    ASSERT_TRUE(parent_end.Send(absl::MakeConstSpan(&byte, 1), fds).ok());
    ::close(p[0]);
    ::close(p[1]);
  }
  auto child = testing::ChildProcess::Fork([&]() -> int {
    parent_end.Close();
    // At most 64 fds, and every free slot below 64 taken.
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 2;
    limit.rlim_cur = 64;
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) return 3;
    std::vector<UniqueFd> fillers;
    while (true) {
      UniqueFd fd(::fcntl(child_end.fd(), F_DUPFD_CLOEXEC, 0));
      if (!fd) break;
      fillers.push_back(std::move(fd));
    }
    if (errno != EMFILE || fillers.empty()) return 4;
    uint8_t buf[16];
    auto dropped = child_end.Receive(absl::MakeSpan(buf));
    std::fprintf(stderr, "status: %s\n", dropped.status().ToString().c_str());
    if (!absl::IsResourceExhausted(dropped.status())) return 5;
    const std::string text(dropped.status().message());
    if (text.find("out of file descriptors (RLIMIT_NOFILE 64)") ==
        std::string::npos) {
      return 6;
    }
    fillers.pop_back();
    auto next = child_end.Receive(absl::MakeSpan(buf));
    if (!next.ok() || !next->has_value()) return 7;
    if ((*next)->fds.size() != 1 || buf[0] != 1) return 8;
    return 0;
  });
  child_end.Close();
  EXPECT_EQ(child.Wait(), "exit 0");
}

TEST(UnixChannelTest, RefusesToSendMoreFdsThanTheLimit) {
  auto pair = UnixChannel::Pair();
  ASSERT_TRUE(pair.ok());
  std::vector<int> fds(UnixChannel::kMaxFds + 1, 0);
  const uint8_t b = 1;
  EXPECT_EQ(pair->first.Send(absl::MakeConstSpan(&b, 1), fds).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace shmport
