// Fault injection (issue 7): memory limits, without cgroups. RLIMIT_AS set
// just above what a forked child already maps makes the kernel refuse the
// next large mapping (ENOMEM), the way a memory-limited container would
// refuse the pages. A sender then gets RESOURCE_EXHAUSTED from Allocate and
// succeeds once memory is back; a receiver that cannot map an announced
// segment closes the port with a reason. Nothing leaks on either side.
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "shmport/port.h"
#include "tests/fault/child_check.h"
#include "tests/ports/port_harness.h"
#include "tests/util/process_census.h"

namespace shmport::testing {
namespace {

constexpr absl::Duration kBound = absl::Seconds(20);
// 16 MiB segments: one more segment cannot fit in the headroom below.
constexpr SegmentGeometry kGeometry{64 * 1024, 256};
constexpr rlim_t kHeadroom = 4 << 20;

std::string Text(const absl::Status& s) { return std::string(s.message()); }

PortOptions LargeSegments() {
  PortOptions o;
  o.geometry = kGeometry;
  o.max_segments = 4;
  return o;
}

// This process's address-space size (VmSize), in bytes.
rlim_t AddressSpace() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (absl::StartsWith(line, "VmSize:")) {
      return static_cast<rlim_t>(std::stoull(line.substr(7))) * 1024;
    }
  }
  return RLIM_INFINITY;
}

// While it lives, the address space may grow by at most kHeadroom.
class AddressSpaceLimit {
 public:
  AddressSpaceLimit() {
    ::getrlimit(RLIMIT_AS, &original_);
    const rlimit r{AddressSpace() + kHeadroom, original_.rlim_max};
    ok_ = ::setrlimit(RLIMIT_AS, &r) == 0;
  }
  ~AddressSpaceLimit() { ::setrlimit(RLIMIT_AS, &original_); }
  bool ok() const { return ok_; }

 private:
  rlimit original_{};
  bool ok_ = false;
};

TEST(MemoryLimitTest, SenderOverItsLimitGetsResourceExhaustedThenRecovers) {
  ProcessCensus census;
  {
    Signal done;
    auto peer = ForkPeer(
        [&done](Port& port) -> int {
          CHILD_CHECK(port.SendCopy(1, std::vector<uint8_t>(10, 1)).ok(),
                      "first message");
          // Segment 0, all of it, held: the next buffer needs segment 1.
          auto held = port.Allocate(kGeometry.data_size(), kBound);
          CHILD_CHECK(held.ok(), held.status().ToString());
          const int fds = CountOpenFds();
          const int mappings = CountSegmentMappings();
          {
            AddressSpaceLimit limit;
            CHILD_CHECK(limit.ok(), "setrlimit(RLIMIT_AS)");
            auto b = port.Allocate(1 << 20, kBound);
            CHILD_CHECK(absl::IsResourceExhausted(b.status()),
                        b.status().ToString());
            CHILD_CHECK(absl::StrContains(Text(b.status()), "mmap segment 1"),
                        Text(b.status()));
            CHILD_CHECK(!port.closed(), Text(port.closed_reason()));
            CHILD_CHECK(CountOpenFds() == fds, "the failed memfd stayed open");
            CHILD_CHECK(CountSegmentMappings() == mappings, "a mapping leaked");
          }
          // Memory is back: segment 1 maps, and the data arrives.
          auto b = port.Allocate(1 << 20, kBound);
          CHILD_CHECK(b.ok(), b.status().ToString());
          FillPattern(b->data(), b->size(), 2);
          CHILD_CHECK(port.Send(2, *std::move(b)).ok(), "send after the limit");
          // Stay until the parent has it all (port_lifecycle_test.cc).
          CHILD_CHECK(done.Wait(kBound).has_value(), "no done signal");
          return 0;
        },
        LargeSegments(), LargeSegments());
    ASSERT_TRUE(peer.ok()) << peer.status();
    auto first = peer->port->Receive(kBound);
    ASSERT_TRUE(first.ok()) << first.status();
    auto second = peer->port->Receive(kBound);
    ASSERT_TRUE(second.ok()) << second.status();
    EXPECT_EQ(second->stream(), 2u);
    EXPECT_TRUE(CheckPattern(*second, 2));
    done.Notify();
    EXPECT_EQ(peer->child.Wait(kBound), "exit 0");
  }
  EXPECT_EQ(census.LeakedFds(), 0) << census.Describe();
  EXPECT_EQ(census.LeakedMappings(), 0);
}

TEST(MemoryLimitTest, ReceiverOverItsLimitClosesThePortWithAReason) {
  ProcessCensus census;
  {
    Signal go;
    auto peer = ForkPeer(
        [&go](Port& port) -> int {
          auto first = port.Receive(kBound);  // the ring is mapped by now
          CHILD_CHECK(first.ok(), first.status().ToString());
          const int fds = CountOpenFds();
          const int mappings = CountSegmentMappings();
          AddressSpaceLimit limit;
          CHILD_CHECK(limit.ok(), "setrlimit(RLIMIT_AS)");
          go.Notify();  // the parent sends into a new 16 MiB segment
          auto m = port.Receive(kBound);
          CHILD_CHECK(absl::IsUnavailable(m.status()), m.status().ToString());
          const std::string reason = Text(port.closed_reason());
          std::fprintf(stderr, "reason: %s\n", reason.c_str());
          CHILD_CHECK(absl::StrContains(reason, "NEW_SEGMENT") &&
                          absl::StrContains(reason, "Cannot allocate memory"),
                      reason);
          CHILD_CHECK(CountOpenFds() == fds, "the memfd stayed open");
          CHILD_CHECK(CountSegmentMappings() <= mappings, "a mapping leaked");
          return 0;
        },
        LargeSegments(), LargeSegments());
    ASSERT_TRUE(peer.ok()) << peer.status();
    ASSERT_TRUE(peer->port->SendCopy(1, std::vector<uint8_t>(10, 1)).ok());
    ASSERT_TRUE(go.Wait(kBound).has_value());
    (void)peer->port->SendCopy(2, std::vector<uint8_t>(1 << 20, 2));
    const absl::Status end = ReceiveUntilError(*peer->port, kBound, 1000);
    EXPECT_EQ(end.code(), absl::StatusCode::kUnavailable) << end;
    EXPECT_EQ(peer->child.Wait(kBound), "exit 0");
  }
  EXPECT_EQ(census.LeakedFds(), 0) << census.Describe();
  EXPECT_EQ(census.LeakedMappings(), 0);
}

}  // namespace
}  // namespace shmport::testing
