// The seed corpora are specifications too: each seed means what its name
// says (a "valid-" seed is accepted, a "bad-" one rejected), together they
// cover every message type, and the checked-in files are the generator's
// output byte for byte.
#include "tests/fuzz/seed_corpus.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>

#include "common/segment.h"
#include "common/wire.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fuzz/broker_frame_input.h"
#include "tests/fuzz/ring_reader_input.h"
#include "tests/fuzz/segment_open_input.h"
#include "tests/fuzz/wire_decode_input.h"

namespace shmport::fuzz {
namespace {

// Where `bazel test` puts the checked-in corpus (runfiles, relative to the
// test's working directory).
constexpr char kCorpusDir[] = "tests/fuzz/corpus";

TEST(WireDecodeSeedsTest, EachSeedDecodesExactlyWhenNamedValid) {
  for (const Seed& seed : WireDecodeSeeds().seeds) {
    const WireDecodeInput in = WireDecodeInput::Parse(seed.bytes);
    const absl::Status status = wire::Decode(in.datagram, in.num_fds).status();
    EXPECT_EQ(status.ok(), seed.valid()) << seed.name << ": " << status;
  }
}

TEST(WireDecodeSeedsTest, CoverEveryMessageTypeAndTrackedMmapData) {
  std::set<int> types;
  bool mmap_plain = false, mmap_tracked = false;
  for (const Seed& seed : WireDecodeSeeds().seeds) {
    if (!seed.valid()) continue;
    const WireDecodeInput in = WireDecodeInput::Parse(seed.bytes);
    const absl::StatusOr<wire::Decoded> d =
        wire::Decode(in.datagram, in.num_fds);
    ASSERT_TRUE(d.ok()) << seed.name;
    types.insert(d->header.type);
    if (d->type() == wire::MessageType::kMmapData) {
      (d->tracking.has_value() ? mmap_tracked : mmap_plain) = true;
    }
  }
  // Every type the decoder has a name for, including ones added later.
  for (int t = 0; t < 256; ++t) {
    const auto type = static_cast<wire::MessageType>(t);
    if (wire::MessageTypeName(type) == "UNKNOWN") continue;
    EXPECT_EQ(types.count(t), 1u)
        << "no valid seed of " << wire::MessageTypeName(type);
  }
  EXPECT_GE(types.size(), 8u);
  EXPECT_TRUE(mmap_plain);
  EXPECT_TRUE(mmap_tracked);
}

TEST(SegmentOpenSeedsTest, EachSeedOpensExactlyWhenNamedValid) {
  for (const Seed& seed : SegmentOpenSeeds().seeds) {
    const SegmentOpenInput in = SegmentOpenInput::Parse(seed.bytes);
    absl::StatusOr<UniqueFd> fd = MakeSegmentFd(in);
    ASSERT_TRUE(fd.ok()) << seed.name << ": " << fd.status();
    const absl::Status status = OpenSegment(in, std::move(*fd)).status();
    EXPECT_EQ(status.ok(), seed.valid()) << seed.name << ": " << status;
  }
}

TEST(SegmentOpenSeedsTest, ReferenceModelAgreesWithEverySeedName) {
  for (const Seed& seed : SegmentOpenSeeds().seeds) {
    EXPECT_EQ(SegmentOpenInput::Parse(seed.bytes).ShouldOpen(), seed.valid())
        << seed.name;
  }
}

TEST(RingReaderSeedsTest, EachSeedDrainsCleanlyExactlyWhenNamedValid) {
  for (const Seed& seed : RingReaderSeeds().seeds) {
    const absl::StatusOr<RingRun> run =
        RunRingScript(seed.bytes, nullptr, nullptr);
    ASSERT_TRUE(run.ok()) << seed.name << ": " << run.status();
    EXPECT_EQ(run->open.ok(), run->should_open)
        << seed.name << ": " << run->open;
    const bool clean = run->open.ok() && run->pop.ok() && run->drained;
    EXPECT_EQ(clean, seed.valid())
        << seed.name << ": open " << run->open << ", pop " << run->pop;
  }
}

TEST(BrokerFrameSeedsTest, EachSeedParsesExactlyWhenNamedValid) {
  for (const Seed& seed : BrokerFrameSeeds().seeds) {
    const absl::Status status = CheckBrokerFrame(
        BrokerFrameInput::Parse(seed.bytes.data(), seed.bytes.size()));
    EXPECT_EQ(status.ok(), seed.valid()) << seed.name << ": " << status;
  }
}

TEST(SeedCorpusTest, SeedNamesAreUniqueAndSayValidOrBad) {
  for (const SeedCorpus& corpus : AllSeedCorpora()) {
    std::set<std::string> names;
    for (const Seed& seed : corpus.seeds) {
      EXPECT_TRUE(names.insert(seed.name).second)
          << corpus.target << ": duplicate " << seed.name;
      EXPECT_TRUE(seed.valid() || seed.name.rfind("bad-", 0) == 0)
          << corpus.target << ": " << seed.name;
    }
  }
}

// A checked-in seed that no longer matches the generator would lie about
// its name (a "valid-" seed the decoder now rejects). Seeds the generator
// added since (for message types added to the protocol) may be missing:
// the fuzzer finds those types anyway, and regenerating adds them.
TEST(SeedCorpusTest, CheckedInSeedsMatchTheGeneratorOutput) {
  int checked = 0;
  for (const SeedCorpus& corpus : AllSeedCorpora()) {
    for (const Seed& seed : corpus.seeds) {
      const std::string path =
          std::string(kCorpusDir) + "/" + corpus.target + "/" + seed.name;
      std::ifstream in(path, std::ios::binary);
      if (!in.good()) continue;
      ++checked;
      const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                       std::istreambuf_iterator<char>());
      EXPECT_TRUE(bytes == seed.bytes)
          << path << " differs from the generator's output: run `bazel run "
          << "//tests/fuzz:seed_corpus_generator` and commit tests/fuzz/corpus";
    }
  }
  EXPECT_GT(checked, 0) << "no seeds found under " << kCorpusDir;
}

TEST(SeedCorpusTest, CorpusDirectoriesHoldNothingButSeeds) {
  // Inputs the fuzzer found belong in regressions/ or findings/, where they
  // are kept by name; corpus/ is regenerated wholesale.
  for (const SeedCorpus& corpus : AllSeedCorpora()) {
    std::set<std::string> names;
    for (const Seed& seed : corpus.seeds) names.insert(seed.name);
    const std::filesystem::path dir =
        std::filesystem::path(kCorpusDir) / corpus.target;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      EXPECT_EQ(names.count(e.path().filename()), 1u)
          << e.path() << " is not a generated seed";
    }
  }
}

}  // namespace
}  // namespace shmport::fuzz
