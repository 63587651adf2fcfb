// cpp_topic_publisher: a C++ publisher for the Python topic tests
// (tests/python/topics_test.py). Registers as --name, publishes --topic,
// prints "ready", waits until --subscribers subscriptions exist, publishes
// --count samples of --size bytes (byte i of the sample of sequence s is
// (s + i) mod 256), then waits until every sample came back and prints
//   summary published=N chunks_in_use=N
// Exit: 0 when nothing is left in use, 1 on any failure.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "shmport/session.h"
#include "shmport/topic.h"

ABSL_FLAG(std::string, address, "", "the daemon's address");
ABSL_FLAG(std::string, name, "cpp-publisher", "the name to register");
ABSL_FLAG(std::string, topic, "", "the topic to publish");
ABSL_FLAG(uint32_t, subscribers, 1, "subscriptions to wait for");
ABSL_FLAG(uint32_t, count, 0, "samples to publish");
ABSL_FLAG(uint32_t, size, 0, "bytes per sample");

namespace {

constexpr absl::Duration kBound = absl::Seconds(30);

// Polls `done` (a bounded condition: subscriptions arrive and samples come
// back asynchronously).
template <typename Done>
bool Within(absl::Duration bound, Done done) {
  const absl::Time until = absl::Now() + bound;
  while (!done()) {
    if (absl::Now() > until) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

absl::Status PublishAll(shmport::Publisher& publisher, uint32_t count,
                        uint32_t size) {
  for (uint32_t i = 0; i < count; ++i) {
    absl::StatusOr<shmport::SampleBuffer> b = publisher.Allocate(size, kBound);
    if (!b.ok()) return b.status();
    const uint64_t sequence = publisher.stats().samples_published + 1;
    for (size_t j = 0; j < b->size(); ++j) {
      b->data()[j] = static_cast<uint8_t>((sequence + j) & 0xff);
    }
    absl::StatusOr<uint64_t> published = publisher.Publish(*std::move(b));
    if (!published.ok()) return published.status();
    if (*published != sequence) {
      return absl::InternalError("the sequence numbers are not 1, 2, ...");
    }
  }
  return absl::OkStatus();
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "cpp_topic_publisher: %s\n", status.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  auto session =
      shmport::Session::Connect({.name = absl::GetFlag(FLAGS_name),
                                 .address = absl::GetFlag(FLAGS_address)});
  if (!session.ok()) return Fail(session.status());
  auto publisher = (*session)->Publish(absl::GetFlag(FLAGS_topic));
  if (!publisher.ok()) return Fail(publisher.status());
  std::printf("ready\n");
  std::fflush(stdout);
  shmport::Publisher& p = **publisher;
  if (!Within(kBound, [&] {
        return p.stats().subscriptions.size() ==
               absl::GetFlag(FLAGS_subscribers);
      })) {
    return Fail(absl::DeadlineExceededError("too few subscriptions"));
  }
  if (absl::Status s =
          PublishAll(p, absl::GetFlag(FLAGS_count), absl::GetFlag(FLAGS_size));
      !s.ok()) {
    return Fail(s);
  }
  Within(kBound, [&] { return p.stats().chunks_in_use == 0; });
  const shmport::PublisherStats stats = p.stats();
  std::printf("summary published=%llu chunks_in_use=%llu\n",
              static_cast<unsigned long long>(stats.samples_published),
              static_cast<unsigned long long>(stats.chunks_in_use));
  return stats.chunks_in_use == 0 ? 0 : 1;
}
