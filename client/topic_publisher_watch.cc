// The publisher's watcher thread: reads what subscribers send (their HELLO
// and releases), notices their EOF, resumes delivery when a full socket
// drains. Everything a subscriber sends is checked against what this
// publisher delivered to that very subscription.
#include <sys/epoll.h>

#include <array>

#include "absl/strings/str_cat.h"
#include "client/topic_publisher_core.h"

namespace shmport::internal {
namespace {

constexpr int kMessagesPerTurn = 64;
// Anything a subscriber may send fits: HELLO, RELEASE of kMaxReleases.
constexpr size_t kReceiveBytes =
    topic_wire::kHeaderBytes + topic_wire::kMaxReleases * sizeof(uint64_t);

}  // namespace

void PublisherCore::WatchLoop() {
  std::array<epoll_event, 32> events;
  for (;;) {
    const int n = ::epoll_wait(epoll_.get(), events.data(), events.size(), -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (int i = 0; i < n; ++i) {
      const uint64_t id = events[i].data.u64;
      if (id == kWakeId) return;
      if (events[i].events & EPOLLOUT) OnWritable(id);
      if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        OnReadable(id);
      }
    }
  }
}

void PublisherCore::OnWritable(uint64_t subscription_id) {
  MutexLock lock(&mu_);
  auto it = subs_.find(subscription_id);
  if (it == subs_.end()) return;
  ArmWritable(*it->second, false);
  Pump(*it->second);
  room_.SignalAll();
}

void PublisherCore::OnReadable(uint64_t subscription_id) {
  std::shared_ptr<UnixChannel> channel;
  {
    MutexLock lock(&mu_);
    auto it = subs_.find(subscription_id);
    if (it == subs_.end()) return;
    channel = it->second->channel();
  }
  alignas(8) std::array<uint8_t, kReceiveBytes> buffer;
  for (int turn = 0; turn < kMessagesPerTurn; ++turn) {
    absl::StatusOr<std::optional<ReceivedMessage>> got =
        channel->Receive(absl::MakeSpan(buffer), /*dont_wait=*/true);
    if (got.ok() && !got->has_value()) return;  // drained
    MutexLock lock(&mu_);
    auto it = subs_.find(subscription_id);
    if (it == subs_.end()) return;
    TopicSubscription& sub = *it->second;
    if (!got.ok()) {
      // EOF (the subscriber closed or died): its holds go at once. A
      // datagram too large or with too many fds: a protocol error.
      if (absl::IsUnavailable(got.status())) {
        EndSubscription(sub);
      } else {
        CutOff(sub, absl::InvalidArgumentError(
                        absl::StrCat("topic ", topic_, ": subscription ",
                                     sub.id(), ": ", got.status().message())));
      }
      return;
    }
    OnSubscriberMessage(sub, absl::MakeConstSpan(buffer.data(), (*got)->size),
                        static_cast<int>((*got)->fds.size()));
  }
}

void PublisherCore::OnSubscriberMessage(TopicSubscription& sub,
                                        absl::Span<const uint8_t> bytes,
                                        int num_fds) {
  const std::string who =
      absl::StrCat("topic ", topic_, ": subscription ", sub.id(), ": ");
  absl::StatusOr<topic_wire::Decoded> message =
      topic_wire::Decode(bytes, num_fds);
  absl::Status status = message.status();
  if (status.ok() && message->type == topic_wire::Type::kHello) {
    const auto hello = message->As<topic_wire::TopicHello>();
    if (sub.hello_received) {
      status = absl::InvalidArgumentError("a second HELLO");
    } else if (hello.protocol_version != topic_wire::kProtocolVersion) {
      status = absl::FailedPreconditionError(absl::StrCat(
          "topic protocol version ", hello.protocol_version,
          "; this publisher speaks ", topic_wire::kProtocolVersion));
    } else if (hello.role !=
               static_cast<uint16_t>(topic_wire::Role::kSubscriber)) {
      status = absl::InvalidArgumentError(absl::StrCat("HELLO with role ",
                                                       hello.role,
                                                       ", expected 2 "
                                                       "(subscriber)"));
    }
    sub.hello_received = true;
    sub.takes_batches = (hello.features & topic_wire::kFeatureBatch) != 0;
    sub.sends_waiting = (hello.features & topic_wire::kFeatureWaiting) != 0;
  } else if (status.ok() && !sub.hello_received) {
    status = absl::InvalidArgumentError(
        absl::StrCat(topic_wire::TypeName(message->type), " before HELLO"));
  } else if (status.ok() && (message->type == topic_wire::Type::kRelease ||
                             message->type == topic_wire::Type::kWaiting)) {
    status = OnRelease(sub, *message);
    if (status.ok()) {
      if (message->type == topic_wire::Type::kWaiting) sub.waiting = true;
      if (Pump(sub)) room_.SignalAll();
      return;
    }
  } else if (status.ok()) {
    status = absl::InvalidArgumentError(absl::StrCat(
        topic_wire::TypeName(message->type), ", which only a publisher sends"));
  }
  if (!status.ok()) {
    CutOff(sub,
           absl::Status(status.code(), absl::StrCat(who, status.message())));
  }
}

absl::Status PublisherCore::OnRelease(TopicSubscription& sub,
                                      const topic_wire::Decoded& message) {
  const size_t n = message.body.size() / sizeof(uint64_t);
  for (size_t i = 0; i < n; ++i) {
    const uint64_t sequence = message.U64(i);
    auto it = samples_.find(sequence);
    const bool known = it != samples_.end();
    const uint32_t chunks = known ? it->second.run.count : 0;
    const uint64_t bytes =
        static_cast<uint64_t>(chunks) * options_.geometry.chunk_size;
    if (!known || !sub.Released(sequence, chunks, bytes)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "released sample ", sequence, ", which it does not hold (",
          sub.held().size(), " held)"));
    }
    Unref(sequence);
  }
  return absl::OkStatus();
}

}  // namespace shmport::internal
