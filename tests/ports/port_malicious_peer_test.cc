// Acceptance (issue 3, item 6): a hostile peer speaking crafted messages
// over a raw socket. Each violation closes the port with a specific reason;
// none crashes the receiver, leaks an fd or a mapping, or hangs it.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <functional>

#include "common/segment.h"
#include "common/unix_channel.h"
#include "common/wire.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shmport/port.h"
#include "tests/ports/port_harness.h"
#include "tests/ports/raw_peer.h"
#include "tests/util/process_census.h"

namespace shmport {
namespace {

using ::testing::HasSubstr;

using testing::RawPeer;

constexpr SegmentGeometry kGeometry = testing::kRawPeerGeometry;

struct Attack {
  const char* name;
  std::function<void(RawPeer&)> run;
  const char* reason;
};

class PortMaliciousPeerTest : public ::testing::TestWithParam<Attack> {};

TEST_P(PortMaliciousPeerTest, ClosesThePortWithAReasonAndLeaksNothing) {
  testing::ProcessCensus census;
  {
    testing::SocketPair sp = testing::MakeSocketPair();
    RawPeer raw(std::move(sp.b));
    raw.SendHello();
    PortOptions o;
    o.geometry = kGeometry;
    auto port = Port::Open(std::move(sp.a), {.pid = ::getpid()}, o);
    ASSERT_TRUE(port.ok()) << port.status();
    GetParam().run(raw);
    // Whatever the attack, the port closes: never a crash or a hang.
    const absl::Status end =
        testing::ReceiveUntilError(**port, absl::Seconds(10), 10);
    EXPECT_EQ(end.code(), absl::StatusCode::kUnavailable) << end;
    EXPECT_THAT(std::string((*port)->closed_reason().message()),
                HasSubstr(GetParam().reason));
    EXPECT_EQ((*port)->stats().protocol_errors, 1u);
    EXPECT_EQ((*port)->stats().segments_in, 0u);
  }
  EXPECT_EQ(census.LeakedFds(), 0) << census.Describe();
  EXPECT_EQ(census.LeakedMappings(), 0);
}

UniqueFd UnsealedMemfd(const Segment& model, uint64_t size) {
  UniqueFd fd(::memfd_create("shmport-evil", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  EXPECT_EQ(::ftruncate(fd.get(), size), 0);
  EXPECT_EQ(
      ::pwrite(fd.get(), &model.header()->info, sizeof(layout::SegmentInfo), 0),
      static_cast<ssize_t>(sizeof(layout::SegmentInfo)));
  return fd;
}

INSTANTIATE_TEST_SUITE_P(
    Attacks, PortMaliciousPeerTest,
    ::testing::Values(
        Attack{"SegmentIdOutOfRange",
               [](RawPeer& p) {
                 p.Descriptor({99, 0, 10});
               },
               "segment_id 99 out of range [0, 4)"},
        Attack{"SegmentNeverAnnounced",
               [](RawPeer& p) {
                 p.Descriptor({2, 0, 10});
               },
               "names segment 2, which was never announced"},
        Attack{"ChunkIdOutOfRange",
               [](RawPeer& p) {
                 auto s = p.Announce(0);
                 p.Descriptor({0, 5000, 10});
               },
               "chunk_id 5000 out of range [0, 16)"},
        Attack{"SizeRunsPastTheSegment",
               [](RawPeer& p) {
                 auto s = p.Announce(0);
                 p.Descriptor({0, 14, 3 * 4096});
               },
               "need 3 chunks, past the segment's 16"},
        Attack{"HugeSizeDoesNotOverflow",
               [](RawPeer& p) {
                 auto s = p.Announce(0);
                 p.Descriptor({0, 0, 0xffffffff});
               },
               "past the segment's 16"},
        Attack{"ZeroSize",
               [](RawPeer& p) {
                 auto s = p.Announce(0);
                 p.Descriptor({0, 0, 0});
               },
               "size 0"},
        Attack{"UnsealedMemfd",
               [](RawPeer& p) {
                 auto model = *Segment::Create(0, kGeometry, 0);
                 UniqueFd fd = UnsealedMemfd(*model, kGeometry.file_size());
                 wire::Encoder e(wire::MessageType::kNewSegment, 0);
                 e.SetNewSegment({0, 0, kGeometry.file_size(), model->token()});
                 const int raw = fd.get();
                 p.Send(e, absl::MakeConstSpan(&raw, 1));
               },
               "need F_SEAL_SHRINK|F_SEAL_GROW"},
        Attack{"TruncatedMemfd",
               [](RawPeer& p) {
                 auto model = *Segment::Create(0, kGeometry, 0);
                 UniqueFd fd = UnsealedMemfd(*model, 8192);
                 ASSERT_EQ(::fcntl(fd.get(), F_ADD_SEALS,
                                   F_SEAL_SHRINK | F_SEAL_GROW),
                           0);
                 wire::Encoder e(wire::MessageType::kNewSegment, 0);
                 e.SetNewSegment({0, 0, kGeometry.file_size(), model->token()});
                 const int raw = fd.get();
                 p.Send(e, absl::MakeConstSpan(&raw, 1));
               },
               "file size 8192, declared size 73728"},
        Attack{"NotAMemfd",
               [](RawPeer& p) {
                 int pipe_fds[2];
                 ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
                 wire::Encoder e(wire::MessageType::kNewSegment, 0);
                 e.SetNewSegment({0, 0, kGeometry.file_size(), 1});
                 p.Send(e, absl::MakeConstSpan(pipe_fds, 1));
                 ::close(pipe_fds[0]);
                 ::close(pipe_fds[1]);
               },
               "is the fd a memfd?"},
        Attack{"WrongToken",
               [](RawPeer& p) {
                 auto seg = *Segment::Create(0, kGeometry, 0);
                 wire::Encoder e(wire::MessageType::kNewSegment, 0);
                 e.SetNewSegment({0, 0, seg->file_size(), seg->token() + 1});
                 const int fd = seg->fd();
                 p.Send(e, absl::MakeConstSpan(&fd, 1));
               },
               "token does not match"},
        Attack{"SegmentSentTwice",
               [](RawPeer& p) {
                 auto a = p.Announce(1);
                 auto b = p.Announce(1);
               },
               "segment 1 announced twice"},
        Attack{"FdOnAMessageThatCarriesNone",
               [](RawPeer& p) {
                 int pipe_fds[2];
                 ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
                 wire::Encoder e(wire::MessageType::kData, 1);
                 p.Send(e, absl::MakeConstSpan(pipe_fds, 2));
                 ::close(pipe_fds[0]);
                 ::close(pipe_fds[1]);
               },
               "DATA carries 2 fds, expected 0"},
        Attack{"SecondHello", [](RawPeer& p) { p.SendHello(); },
               "a second HELLO"},
        Attack{"ShortGarbage",
               [](RawPeer& p) {
                 p.SendBytes({1, 2, 3});
               },
               "shorter than the 12-byte header"},
        Attack{"OversizedDatagram",
               [](RawPeer& p) {
                 p.SendBytes(
                     std::vector<uint8_t>(wire::kMaxMessageBytes + 100));
               },
               "was truncated"},
        Attack{"TrackingSlotOutOfRange",
               [](RawPeer& p) {
                 auto s = p.Announce(0);
                 wire::Encoder e(wire::MessageType::kData, 4);
                 e.SetTracking({0, 100000, 1});
                 p.Send(e);
               },
               "tracking slot 100000"},
        Attack{"ReleaseOfAnUnmappedSegment",
               [](RawPeer& p) {
                 wire::Encoder e(wire::MessageType::kReleaseSegment, 0);
                 e.SetReleaseSegment({3});
                 p.Send(e);
               },
               "segment 3 is not mapped"}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace shmport
