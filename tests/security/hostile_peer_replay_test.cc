// Security (issue 7): a malicious port peer cannot make the other side
// crash, hang or leak. Every input of the wire fuzzer's corpus
// (tests/fuzz/corpus/wire_decode_fuzzer/; format in
// tests/fuzz/wire_decode_input.h: byte 0 = how many fds arrived with the
// datagram, then the datagram) is sent by a hostile peer, over a raw
// socket after a valid HELLO, to a live Port, with that many real fds
// attached. Then the peer sends one valid message. The Port must, within a
// bound, either deliver that message (it kept working) or close with a
// reason; either way no fd and no mapping may be left behind.
//
// Each input runs twice: on a fresh port, and on a port to which the peer
// has announced a real segment first, so that descriptors in the corpus
// can name memory that exists.
//
// SHMPORT_WIRE_CORPUS=dir1:dir2 replays more inputs (e.g. the corpus a
// long fuzzing run grew in tests/fuzz/corpus-work/wire_decode_fuzzer).
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/segment.h"
#include "common/unix_channel.h"
#include "common/wire.h"
#include "gtest/gtest.h"
#include "shmport/port.h"
#include "tests/ports/port_harness.h"
#include "tests/util/process_census.h"

namespace shmport::testing {
namespace {

constexpr SegmentGeometry kGeometry{4096, 16};
constexpr uint32_t kSentinel = 0xc0ffee;
// Generous for a loaded machine; a correct port answers in microseconds.
constexpr absl::Duration kBound = absl::Seconds(5);
// More than UnixChannel accepts (8), so that "many fds" inputs also hit
// the control-truncation path.
constexpr int kMostFds = 12;

struct Input {
  std::string name;
  int num_fds = 0;
  std::vector<uint8_t> datagram;
};

std::vector<std::string> CorpusDirectories() {
  const char* srcdir = ::getenv("TEST_SRCDIR");
  const std::string runfiles =
      srcdir != nullptr ? absl::StrCat(srcdir, "/shmport/") : "";
  std::vector<std::string> dirs;
  // //tests/fuzz:wire_decode_corpus, in the runfiles.
  dirs.push_back(runfiles + "tests/fuzz/corpus/wire_decode_fuzzer");
  if (const char* more = ::getenv("SHMPORT_WIRE_CORPUS")) {
    for (absl::string_view d : absl::StrSplit(more, ':', absl::SkipEmpty())) {
      dirs.emplace_back(d);
    }
  }
  return dirs;
}

std::vector<Input> LoadCorpus() {
  std::vector<Input> inputs;
  for (const std::string& dir : CorpusDirectories()) {
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
      if (!entry.is_regular_file()) continue;
      std::ifstream in(entry.path(), std::ios::binary);
      std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                 std::istreambuf_iterator<char>());
      Input input;
      input.name = entry.path().filename();
      // As WireDecodeInput::Parse: an empty input is an empty datagram.
      if (!bytes.empty()) {
        input.num_fds = static_cast<int8_t>(bytes[0]);
        input.datagram.assign(bytes.begin() + 1, bytes.end());
      }
      inputs.push_back(std::move(input));
    }
  }
  std::sort(inputs.begin(), inputs.end(),
            [](const Input& a, const Input& b) { return a.name < b.name; });
  return inputs;
}

PortOptions HostileGeometry() {
  PortOptions o;
  o.geometry = kGeometry;
  o.max_segments = 4;
  o.hello_timeout = kBound;
  return o;
}

// Real fds for the datagram: memfds the port has no reason to accept.
std::vector<UniqueFd> MakeFds(int count) {
  std::vector<UniqueFd> fds;
  for (int i = 0; i < count; ++i) {
    UniqueFd fd(::memfd_create("hostile", MFD_CLOEXEC));
    if (fd) ::ftruncate(fd.get(), 8192);
    fds.push_back(std::move(fd));
  }
  return fds;
}

struct Outcome {
  bool alive = false;
  std::string reason;  // why it closed
};

// One replay. `announce`: the peer first announces segment 0 (a real,
// sealed memfd of the port's geometry) and proves it with a message.
Outcome Replay(const Input& input, bool announce) {
  Outcome outcome;
  SocketPair sp = MakeSocketPair();
  UnixChannel raw(std::move(sp.b));
  const PortOptions options = HostileGeometry();
  EXPECT_TRUE(Port::SendHello(raw.fd(), options).ok());
  auto opened = Port::Open(std::move(sp.a), {.pid = ::getpid()}, options);
  EXPECT_TRUE(opened.ok()) << opened.status();
  if (!opened.ok()) return outcome;
  Port& port = **opened;

  std::shared_ptr<Segment> segment;
  if (announce) {
    auto created = Segment::Create(0, kGeometry, ::getpid());
    EXPECT_TRUE(created.ok()) << created.status();
    segment = *created;
    wire::Encoder e(wire::MessageType::kNewSegment, 0);
    e.SetNewSegment({0, 0, segment->file_size(), segment->token()});
    const int fd = segment->fd();
    EXPECT_TRUE(raw.Send(e.bytes(), absl::MakeConstSpan(&fd, 1)).ok());
    segment->CloseFd();
    std::memset(segment->chunk_data(0), 0x5a, 4096);
    wire::Encoder d(wire::MessageType::kMmapData, 1);
    d.AddDescriptor({0, 0, 4096});
    EXPECT_TRUE(raw.Send(d.bytes()).ok());
    auto m = port.Receive(kBound);
    EXPECT_TRUE(m.ok()) << m.status();
  }

  // The hostile datagram, with its fds; ours are closed right after.
  {
    std::vector<UniqueFd> fds = MakeFds(std::clamp(input.num_fds, 0, kMostFds));
    std::vector<int> raw_fds;
    for (const UniqueFd& fd : fds) raw_fds.push_back(fd.get());
    // A send may fail (the port may already have closed): that is fine.
    (void)raw.Send(input.datagram, raw_fds);
  }
  // One valid message after it.
  {
    wire::Encoder e(wire::MessageType::kData, kSentinel);
    const std::string alive = "alive";
    e.SetInlineLength(alive.size());
    std::vector<uint8_t> bytes(e.bytes().begin(), e.bytes().end());
    bytes.insert(bytes.end(), alive.begin(), alive.end());
    (void)raw.Send(bytes);
  }
  for (int i = 0; i < 100; ++i) {
    absl::StatusOr<Message> m = port.Receive(kBound);
    if (m.ok()) {
      // Read every byte (a bad bound shows under ASan).
      std::vector<uint8_t> copy(m->size());
      if (!copy.empty()) m->CopyTo(copy.data());
      if (m->stream() == kSentinel) {
        outcome.alive = true;
        EXPECT_EQ(std::string(copy.begin(), copy.end()), "alive");
        break;
      }
      continue;
    }
    if (absl::IsUnavailable(m.status())) {
      outcome.reason = std::string(port.closed_reason().message());
      EXPECT_TRUE(port.closed());
      EXPECT_FALSE(outcome.reason.empty()) << "closed without a reason";
      break;
    }
    ADD_FAILURE() << "the port neither closed nor delivered the next "
                  << "message within " << absl::FormatDuration(kBound) << ": "
                  << m.status();
    break;
  }
  if (outcome.alive) {
    // Still a working port: it sends, too.
    EXPECT_TRUE(port.SendCopy(2, std::vector<uint8_t>(5000, 2)).ok());
  }
  return outcome;
}

class HostilePeerReplayTest : public ::testing::TestWithParam<bool> {};

TEST_P(HostilePeerReplayTest, EveryCorpusInputLeavesThePortWorkingOrClosed) {
  const bool announce = GetParam();
  const std::vector<Input> inputs = LoadCorpus();
  ASSERT_GE(inputs.size(), 40u)
      << "the wire corpus was not found (looked in "
      << absl::StrJoin(CorpusDirectories(), ", ") << ")";
  std::map<std::string, int> reasons;
  int alive = 0;
  for (const Input& input : inputs) {
    SCOPED_TRACE(absl::StrCat(
        input.name, announce ? " (segment announced)" : " (fresh port)"));
    ProcessCensus census;
    const Outcome outcome = Replay(input, announce);
    EXPECT_EQ(census.LeakedFds(), 0) << census.Describe();
    EXPECT_EQ(census.LeakedMappings(), 0);
    if (::getenv("SHMPORT_REPLAY_VERBOSE") != nullptr) {
      std::printf("%-40s %s\n", input.name.c_str(),
                  outcome.alive ? "working" : outcome.reason.c_str());
    }
    if (outcome.alive) {
      ++alive;
    } else {
      ++reasons[outcome.reason.substr(0, outcome.reason.find(':', 30))];
    }
  }
  std::printf("%zu inputs: %d left the port working, %zu closed it:\n",
              inputs.size(), alive, inputs.size() - alive);
  for (const auto& [reason, count] : reasons) {
    std::printf("  %3d  %s\n", count, reason.c_str());
  }
  // The valid data seeds must not have closed the port.
  EXPECT_GT(alive, 0);
}

INSTANTIATE_TEST_SUITE_P(FreshOrAnnounced, HostilePeerReplayTest,
                         ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "SegmentAnnounced" : "FreshPort";
                         });

}  // namespace
}  // namespace shmport::testing
