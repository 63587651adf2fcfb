// Test harness for topics over real processes and real socketpairs, no
// daemon: a subscriber runs in a forked child with one end of a
// SOCK_SEQPACKET pair, the publisher's core in the test process gets the
// other end, exactly as the daemon's SubscriptionOpened would hand it.
#ifndef SHMPORT_TESTS_TOPICS_TOPIC_HARNESS_H_
#define SHMPORT_TESTS_TOPICS_TOPIC_HARNESS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "client/topic_endpoint.h"
#include "shmport/topic.h"
#include "shmport/unique_fd.h"
#include "tests/util/child_process.h"

namespace shmport::testing {

// Sample contents every subscriber can verify byte by byte: a function of
// the sequence number and the offset.
void FillPayload(uint64_t sequence, absl::Span<uint8_t> bytes);
bool CheckPayload(uint64_t sequence, absl::Span<const uint8_t> bytes);
// A reproducible pseudo-random size in [0, max] for `sequence`.
uint64_t SizeFor(uint64_t sequence, uint64_t max, uint64_t seed = 1);

// What a subscriber child tells the test when it ends.
struct SubscriberReport {
  uint64_t received = 0;
  uint64_t first_sequence = 0;
  uint64_t last_sequence = 0;
  uint64_t corrupt = 0;       // samples whose bytes did not check
  uint64_t out_of_order = 0;  // gaps the missed count does not explain
  uint64_t missed = 0;        // the publisher's MISSED notices, summed
  uint64_t bytes = 0;
  int64_t elapsed_us = 0;  // first measured sample to last
  uint64_t measured = 0;   // samples from ReadPlan::measure_from on
  // A hostile subscriber: writes into the publisher's memory that worked
  // (must be none), and pages of its private copy it filled with garbage.
  int32_t shared_writes = 0;
  uint64_t pages_scribbled = 0;
  int32_t fds_left = 0;       // opened by the subscriber and never closed
  int32_t mappings_left = 0;  // segment mappings after everything dropped
  int32_t error_code = 0;     // absl::StatusCode of the Receive that ended it
  char error[256] = {};
};

// A forked subscriber process with its end of a subscription.
class SubscriberProcess {
 public:
  using Body = std::function<SubscriberReport(UniqueFd socket)>;
  // Forks; the child keeps only stdio, its socket and its report pipe.
  static absl::StatusOr<std::unique_ptr<SubscriberProcess>> Start(Body body);

  // The publisher's end, for PublisherCore::OnSubscriptionOpened.
  UniqueFd TakeSocket() { return std::move(socket_); }
  pid_t pid() const { return child_->pid(); }
  ChildProcess& process() { return *child_; }
  // The child's report; an error when it died or did not report in time.
  absl::StatusOr<SubscriberReport> Wait(absl::Duration timeout);

 private:
  SubscriberProcess() = default;
  std::unique_ptr<ChildProcess> child_;
  UniqueFd socket_;
  UniqueFd report_;
};

// Hands `socket` to `endpoint` as subscription `id`.
void Open(internal::TopicEndpoint& endpoint, uint64_t id, UniqueFd socket,
          internal::SubscriptionTerms terms = {});

// The standard subscriber: receives until it has `count` samples (or
// until a sample's sequence reaches `last_sequence`), checking every byte
// and the order, then reports. `hold` samples are kept before releasing
// the oldest (a slow reader holds some).
struct ReadPlan {
  uint64_t count = 0;
  uint64_t last_sequence = 0;  // 0: stop after `count`
  internal::SubscriptionTerms terms;
  SubscriberOptions options;
  absl::Duration timeout = absl::Seconds(30);  // per Receive
  uint32_t hold = 0;
  // Rates count from the first sample of at least this sequence.
  uint64_t measure_from = 0;
  // Raised (SIGSTOP'd, killed) once this many arrived: a pipe write.
  std::function<void(uint64_t received)> on_sample;
};
SubscriberReport ReadSamples(UniqueFd socket, const ReadPlan& plan);
// The same checks over any source of samples (a Session's Subscriber).
void ReadFrom(
    const std::function<absl::StatusOr<Sample>(absl::Duration)>& receive,
    const std::function<uint64_t()>& missed_so_far, const ReadPlan& plan,
    SubscriberReport* report);

// Publishes `count` samples of SizeFor(seq, max_size) bytes, each filled
// with FillPayload. Fails on the first error.
absl::Status PublishSamples(Publisher& publisher, uint64_t count,
                            uint64_t max_size,
                            absl::Duration timeout = absl::Seconds(30));

// True while `pid` is stopped (SIGSTOP): /proc/<pid>/stat says 'T'.
bool Stopped(pid_t pid);

std::unique_ptr<Publisher> NewPublisher(const PublisherOptions& options,
                                        std::string topic = "t/test");
// The core behind a Publisher the harness made.
internal::TopicEndpoint& Endpoint(Publisher& publisher);

}  // namespace shmport::testing

#endif  // SHMPORT_TESTS_TOPICS_TOPIC_HARNESS_H_
