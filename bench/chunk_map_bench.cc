// Micro-benchmarks of the data-plane core: chunk allocation and the wire
// codec. Target (issue 2): a 1-chunk allocate+free pair <= 50 ns uncontended.
#include <atomic>
#include <memory>

#include "benchmark/benchmark.h"
#include "common/chunk_map.h"
#include "common/segment.h"
#include "common/wire.h"

namespace shmport {
namespace {

void BM_AllocateFree(benchmark::State& state) {
  const uint32_t n = static_cast<uint32_t>(state.range(0));
  auto seg = Segment::Create(0, SegmentGeometry{16384, 1024}, 0);
  if (!seg.ok()) {
    state.SkipWithError("segment create failed");
    return;
  }
  ChunkMap map = (*seg)->chunks();
  // A realistic map: a few runs already busy so scans skip some bits.
  map.Allocate(37);
  uint32_t hint = 0;
  for (auto _ : state) {
    auto first = map.Allocate(n, hint);
    benchmark::DoNotOptimize(first);
    hint = *first + n;
    map.Free(*first, n);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AllocateFree)->Arg(1)->Arg(8)->ArgName("chunks");

void BM_AllocateFreeContended(benchmark::State& state) {
  static std::shared_ptr<Segment> seg;
  if (state.thread_index() == 0) {
    seg = *Segment::Create(0, SegmentGeometry{16384, 1024}, 0);
  }
  // Google Benchmark starts all threads' loops together.
  for (auto _ : state) {
    ChunkMap map = seg->chunks();
    auto first = map.Allocate(1, state.thread_index() * 256);
    benchmark::DoNotOptimize(first);
    if (first) map.Free(*first, 1);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AllocateFreeContended)->Threads(2);

void BM_EncodeDecode16Descriptors(benchmark::State& state) {
  for (auto _ : state) {
    wire::Encoder e(wire::MessageType::kMmapData, 42, wire::kFlagLast);
    for (uint32_t i = 0; i < 16; ++i) e.AddDescriptor({i & 7, i * 3, 16384});
    auto bytes = e.bytes();
    auto d = wire::Decode(bytes, 0);
    uint64_t sum = 0;
    for (int i = 0; i < d->descriptor_count(); ++i) {
      sum += d->descriptor(i).size;
    }
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EncodeDecode16Descriptors);

}  // namespace
}  // namespace shmport

BENCHMARK_MAIN();
