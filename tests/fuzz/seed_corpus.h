// The seed corpora of the fuzz targets, built in code from the production
// encoders so they stay true to the formats. seed_corpus_generator writes
// them under tests/fuzz/corpus/<target>/; seed_corpus_test checks that the
// checked-in files are exactly this output and that every seed means what
// its name says.
#ifndef SHMPORT_TESTS_FUZZ_SEED_CORPUS_H_
#define SHMPORT_TESTS_FUZZ_SEED_CORPUS_H_

#include <cstdint>
#include <string>
#include <vector>

namespace shmport::fuzz {

struct Seed {
  // The file name: "valid-..." for input the code under test must accept,
  // "bad-..." for a near miss it must reject.
  std::string name;
  std::vector<uint8_t> bytes;

  bool valid() const { return name.rfind("valid-", 0) == 0; }
};

// A fuzz target and its seeds.
struct SeedCorpus {
  std::string target;  // directory name under tests/fuzz/corpus/
  std::vector<Seed> seeds;
};

// Every message type, framed correctly (HELLO, DATA, MMAP_DATA with and
// without TRACKED, NEW_SEGMENT, OOSM, SHM_ACK, BYE, RELEASE_SEGMENT,
// NEW_RING, RING_WAKE, RING_RESUME, and a minimal seed of any type added
// since), and near misses that break one framing rule each.
SeedCorpus WireDecodeSeeds();

// Segments a receiver must accept, and near misses that each break one rule
// of protocol.md §2 (a seal, a size, a header field, the fd's kind).
SeedCorpus SegmentOpenSeeds();

// Rings a reader drains cleanly, and hostile ones: a fault Open must see,
// or an impossible tail or entry Pop must refuse.
SeedCorpus RingReaderSeeds();

// Broker-link frames the daemon (first frame, link frames) and a client
// (notices, with their fds) accept, and near misses of each rule.
SeedCorpus BrokerFrameSeeds();

// All of the above, for the generator.
std::vector<SeedCorpus> AllSeedCorpora();

}  // namespace shmport::fuzz

#endif  // SHMPORT_TESTS_FUZZ_SEED_CORPUS_H_
