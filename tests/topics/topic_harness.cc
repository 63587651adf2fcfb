#include "tests/topics/topic_harness.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <deque>
#include <fstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "client/topic_access.h"
#include "client/topic_publisher_core.h"
#include "client/topic_subscriber_core.h"
#include "common/unix_channel.h"
#include "tests/util/fd_wait.h"
#include "tests/util/piped_child.h"
#include "tests/util/process_census.h"

namespace shmport::testing {
namespace {

uint64_t Mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return x;
}

// Closes every fd above stderr but `keep` (a forked child must not hold
// its siblings' ends, or their EOF never comes).
void CloseAllBut(std::initializer_list<int> keep) {
  for (int fd = 3; fd < 1024; ++fd) {
    bool kept = false;
    for (int k : keep) kept = kept || k == fd;
    if (!kept) ::close(fd);
  }
}

void SetError(SubscriberReport* r, const absl::Status& s) {
  r->error_code = static_cast<int32_t>(s.code());
  std::strncpy(r->error, std::string(s.message()).c_str(),
               sizeof(r->error) - 1);
}

}  // namespace

void ReadInto(UniqueFd socket, const ReadPlan& plan, SubscriberReport* out);

void FillPayload(uint64_t sequence, absl::Span<uint8_t> bytes) {
  const uint64_t key = Mix(sequence);
  size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    const uint64_t word = key ^ (i * 0x9e3779b97f4a7c15ULL);
    std::memcpy(bytes.data() + i, &word, 8);
  }
  for (; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(key >> (i % 8));
}

bool CheckPayload(uint64_t sequence, absl::Span<const uint8_t> bytes) {
  const uint64_t key = Mix(sequence);
  size_t i = 0;
  uint64_t diff = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, bytes.data() + i, 8);
    diff |= word ^ (key ^ (i * 0x9e3779b97f4a7c15ULL));
  }
  for (; i < bytes.size(); ++i) {
    diff |= bytes[i] ^ static_cast<uint8_t>(key >> (i % 8));
  }
  return diff == 0;
}

uint64_t SizeFor(uint64_t sequence, uint64_t max, uint64_t seed) {
  return max == 0 ? 0
                  : Mix(sequence * 0x2545F4914F6CDD1DULL + seed) % (max + 1);
}

absl::StatusOr<std::unique_ptr<SubscriberProcess>> SubscriberProcess::Start(
    Body body) {
  absl::StatusOr<std::pair<UnixChannel, UnixChannel>> pair =
      UnixChannel::Pair();
  if (!pair.ok()) return pair.status();
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return absl::InternalError("pipe2 failed");
  }
  UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  UniqueFd child_socket = pair->second.TakeFd();
  std::unique_ptr<SubscriberProcess> p(new SubscriberProcess);
  p->socket_ = pair->first.TakeFd();
  const int sock = child_socket.get(), out = write_end.get();
  p->child_ = std::make_unique<ChildProcess>(ChildProcess::Fork([&] {
    CloseAllBut({sock, out});
    const SubscriberReport report = body(UniqueFd(sock));
    return WriteFull(out, &report, sizeof(report)) ? 0 : 3;
  }));
  p->report_ = std::move(read_end);
  return p;
}

absl::StatusOr<SubscriberReport> SubscriberProcess::Wait(
    absl::Duration timeout) {
  SubscriberReport report;
  const absl::Time deadline = absl::Now() + timeout;
  if (!WaitReadable(report_.get(), deadline) ||
      !ReadFull(report_.get(), &report, sizeof(report))) {
    return absl::DeadlineExceededError(absl::StrCat(
        "subscriber ", pid(), " did not report: ", child_->Wait(timeout)));
  }
  const std::string end = child_->Wait(timeout);
  if (end != "exit 0") {
    return absl::InternalError(absl::StrCat("subscriber ", pid(), ": ", end));
  }
  return report;
}

void Open(internal::TopicEndpoint& endpoint, uint64_t id, UniqueFd socket,
          internal::SubscriptionTerms terms) {
  internal::SubscriptionOpened opened;
  opened.subscription_id = id;
  opened.topic = "t/test";
  opened.terms = terms;
  opened.socket = std::move(socket);
  endpoint.OnSubscriptionOpened(std::move(opened));
}

SubscriberReport ReadSamples(UniqueFd socket, const ReadPlan& plan) {
  SubscriberReport report;
  const int fds_before = CountOpenFds() - 1;  // without the socket
  ReadInto(std::move(socket), plan, &report);
  report.fds_left = CountOpenFds() - fds_before;
  report.mappings_left = CountSegmentMappings();
  return report;
}

void ReadInto(UniqueFd socket, const ReadPlan& plan, SubscriberReport* out) {
  absl::StatusOr<std::shared_ptr<internal::SubscriberCore>> core =
      internal::SubscriberCore::Create("t/test", plan.options);
  if (!core.ok()) {
    SetError(out, core.status());
    return;
  }
  Open(**core, 1, std::move(socket), plan.terms);
  ReadFrom(
      [&](absl::Duration timeout) {
        return (*core)->Receive(internal::Deadline(timeout), true);
      },
      [&] { return (*core)->stats().samples_missed; }, plan, out);
}

void ReadFrom(
    const std::function<absl::StatusOr<Sample>(absl::Duration)>& receive,
    const std::function<uint64_t()>& missed_so_far, const ReadPlan& plan,
    SubscriberReport* out) {
  SubscriberReport& report = *out;
  std::deque<Sample> held;
  absl::Time first;
  for (;;) {
    absl::StatusOr<Sample> sample = receive(plan.timeout);
    if (!sample.ok()) {
      SetError(&report, sample.status());
      break;
    }
    if (sample->sequence() >= plan.measure_from) {
      if (report.measured++ == 0) first = absl::Now();
    }
    if (report.received == 0) {
      report.first_sequence = sample->sequence();
    } else {
      const uint64_t missed = missed_so_far();
      if (sample->sequence() != report.last_sequence + 1 &&
          sample->sequence() - report.last_sequence - 1 >
              missed - report.missed) {
        ++report.out_of_order;
      }
      report.missed = missed;
    }
    report.last_sequence = sample->sequence();
    ++report.received;
    report.bytes += sample->size();
    if (!CheckPayload(sample->sequence(), sample->data())) ++report.corrupt;
    if (plan.on_sample) plan.on_sample(report.received);
    held.push_back(std::move(*sample));
    while (held.size() > plan.hold) held.pop_front();
    if ((plan.count > 0 && report.received >= plan.count) ||
        (plan.last_sequence > 0 &&
         report.last_sequence >= plan.last_sequence)) {
      break;
    }
  }
  report.missed = missed_so_far();
  report.elapsed_us = absl::ToInt64Microseconds(absl::Now() - first);
}

absl::Status PublishSamples(Publisher& publisher, uint64_t count,
                            uint64_t max_size, absl::Duration timeout) {
  const uint64_t before = publisher.stats().samples_published;
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t sequence = before + i + 1;
    absl::StatusOr<SampleBuffer> buffer =
        publisher.Allocate(SizeFor(sequence, max_size), timeout);
    if (!buffer.ok()) return buffer.status();
    FillPayload(sequence, buffer->span());
    absl::StatusOr<uint64_t> published = publisher.Publish(std::move(*buffer));
    if (!published.ok()) return published.status();
    if (*published != sequence) {
      return absl::InternalError(
          absl::StrCat("published ", *published, ", expected ", sequence));
    }
  }
  return absl::OkStatus();
}

bool Stopped(pid_t pid) {
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  std::getline(stat, line);
  const size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() &&
         line[paren + 2] == 'T';
}

std::unique_ptr<Publisher> NewPublisher(const PublisherOptions& options,
                                        std::string topic) {
  absl::StatusOr<std::shared_ptr<internal::PublisherCore>> core =
      internal::PublisherCore::Create(std::move(topic), options);
  if (!core.ok()) return nullptr;
  return internal::TopicAccess::NewPublisher(std::move(*core));
}

internal::TopicEndpoint& Endpoint(Publisher& publisher) {
  return internal::TopicAccess::Core(publisher);
}

}  // namespace shmport::testing
