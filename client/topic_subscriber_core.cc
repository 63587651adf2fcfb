#include "client/topic_subscriber_core.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "client/topic_access.h"
#include "client/topic_subscription.h"
#include "common/errors.h"
#include "common/segment.h"

namespace shmport::internal {
namespace {

constexpr uint64_t kWakeId = ~uint64_t{0};

void Drain(int eventfd) {
  uint64_t value;
  (void)!::read(eventfd, &value, sizeof(value));
}

}  // namespace

absl::StatusOr<std::shared_ptr<SubscriberCore>> SubscriberCore::Create(
    std::string topic, const SubscriberOptions& options, uint32_t features) {
  UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!epoll.valid() || !wake.valid()) {
    return ErrnoToStatus(errno, "creating the subscriber's epoll/eventfd");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeId;
  if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, wake.get(), &ev) != 0) {
    return ErrnoToStatus(errno, "watching the subscriber's wake fd");
  }
  return std::shared_ptr<SubscriberCore>(new SubscriberCore(
      std::move(topic), options, features, std::move(epoll), std::move(wake)));
}

SubscriberCore::SubscriberCore(std::string topic,
                               const SubscriberOptions& options,
                               uint32_t features, UniqueFd epoll, UniqueFd wake)
    : topic_(std::move(topic)),
      options_(options),
      features_(features),
      epoll_(std::move(epoll)),
      wake_(std::move(wake)),
      buffer_(topic_wire::kMaxMessageBytes) {}

SubscriberCore::~SubscriberCore() { Close(); }

void SubscriberCore::Close() {
  MutexLock receiving(&receive_mu_);
  std::shared_ptr<SubscriberLink> link;
  {
    MutexLock lock(&mu_);
    closed_ = true;
    link = link_;
  }
  if (link) Drop(link);
}

void SubscriberCore::OnSubscriptionOpened(SubscriptionOpened opened) {
  auto link = std::make_shared<SubscriberLink>(
      opened.subscription_id, UnixChannel(std::move(opened.socket)));
  topic_wire::TopicHello hello{};
  hello.protocol_version = topic_wire::kProtocolVersion;
  hello.role = static_cast<uint16_t>(topic_wire::Role::kSubscriber);
  hello.features = features_;
  // A full socket here means a publisher that reads nothing: it will not
  // deliver either, and the link ends at its EOF.
  (void)link->channel().Send(
      topic_wire::Message(topic_wire::Type::kHello).Put(hello).bytes(), {},
      false, /*dont_wait=*/true);
  std::shared_ptr<SubscriberLink> old;
  {
    MutexLock lock(&mu_);
    if (closed_) {
      link->Close();
      return;
    }
    old = std::exchange(link_, link);
    ++stats_.subscriptions_opened;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = link->subscription_id();
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, link->channel().fd(), &ev);
  }
  if (old) {
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, old->channel().fd(), nullptr);
    old->Close();
  }
  const uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof(one));
}

void SubscriberCore::OnSubscriptionClosed(uint64_t subscription_id,
                                          const absl::Status&) {
  std::shared_ptr<SubscriberLink> link;
  {
    MutexLock lock(&mu_);
    if (!link_ || link_->subscription_id() != subscription_id) return;
    link = link_;
  }
  // Samples already in the socket are still read: the publisher's EOF
  // follows them, and ends the link then.
}

void SubscriberCore::Drop(const std::shared_ptr<SubscriberLink>& link) {
  if (batch_link_ == link) batch_link_.reset();
  {
    MutexLock lock(&mu_);
    if (link_ == link) link_.reset();
    stats_.segments_mapped -=
        std::count_if(link->segments.begin(), link->segments.end(),
                      [](const auto& s) { return s != nullptr; });
  }
  // Held Samples keep their own segments mapped; the rest go now.
  link->segments.clear();
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, link->channel().fd(), nullptr);
  link->Close();
}

void SubscriberCore::WaitReadable(const Deadline& deadline, bool retry_soon) {
  const absl::Duration left = deadline.at() - absl::Now();
  int ms = -1;
  if (!deadline.infinite()) {
    ms = left <= absl::ZeroDuration()
             ? 0
             : static_cast<int>(
                   absl::ToInt64Milliseconds(left + absl::Milliseconds(1)));
  }
  // The publisher may hold samples back until our WAITING reaches it.
  if (retry_soon && (ms < 0 || ms > 1)) ms = 1;
  epoll_event ev;
  if (::epoll_wait(epoll_.get(), &ev, 1, ms) > 0 && ev.data.u64 == kWakeId) {
    Drain(wake_.get());
  }
}

absl::StatusOr<Sample> SubscriberCore::Receive(const Deadline& deadline,
                                               bool wait) {
  MutexLock receiving(&receive_mu_);
  for (;;) {
    std::shared_ptr<SubscriberLink> link;
    {
      MutexLock lock(&mu_);
      link = link_;
    }
    bool retry_soon = false;  // a full socket kept our WAITING back
    if (link) {
      absl::StatusOr<std::optional<Sample>> sample = ReadNext(link);
      if (!sample.ok()) return sample.status();
      if (sample->has_value()) {
        link->HandedOut(/*more_in_hand=*/InBatch(*link));
        return std::move(**sample);
      }
      if (InBatch(*link) || !drained_) continue;
      retry_soon = link->samples_since_waiting;
    }
    if (!wait) {
      return absl::UnavailableError(
          absl::StrCat("topic ", topic_, ": no sample ready"));
    }
    if (deadline.passed()) {
      return absl::DeadlineExceededError(
          absl::StrCat("topic ", topic_, ": no sample within ",
                       absl::FormatDuration(deadline.timeout())));
    }
    WaitReadable(deadline, retry_soon);
  }
}

bool SubscriberCore::InBatch(const SubscriberLink& link) const {
  return batch_link_.get() == &link && batch_next_ < batch_end_;
}

absl::StatusOr<std::optional<Sample>> SubscriberCore::ReadNext(
    const std::shared_ptr<SubscriberLink>& link) {
  drained_ = false;
  if (batch_link_ != nullptr && batch_link_ != link) batch_link_.reset();
  if (InBatch(*link)) {
    const absl::Span<const uint8_t> all(buffer_.data(), batch_end_);
    absl::StatusOr<absl::Span<const uint8_t>> inner =
        topic_wire::NextInBatch(all, &batch_next_);
    if (!inner.ok()) return BrokeProtocol(link, inner.status());
    return OnMessage(link, *inner, {});
  }
  absl::StatusOr<std::optional<ReceivedMessage>> got =
      link->channel().Receive(absl::MakeSpan(buffer_), /*dont_wait=*/true);
  if (!got.ok()) {
    Drop(link);
    if (!absl::IsUnavailable(got.status())) {  // not the publisher's EOF
      return absl::Status(
          got.status().code(),
          absl::StrCat("topic ", topic_, ": dropped the publisher (",
                       "subscription ", link->subscription_id(),
                       "): ", got.status().message()));
    }
    return std::nullopt;
  }
  if (!got->has_value()) {
    drained_ = true;
    // Nothing will come back for the gathered releases; a publisher that
    // holds samples back until we wait learns that we do.
    link->samples_since_waiting = !link->Drained(link->samples_since_waiting);
    return std::nullopt;
  }
  return OnMessage(link, absl::MakeConstSpan(buffer_.data(), (*got)->size),
                   std::move((*got)->fds));
}

absl::Status SubscriberCore::BrokeProtocol(
    const std::shared_ptr<SubscriberLink>& link, const absl::Status& status) {
  Drop(link);
  return absl::Status(
      status.code(),
      absl::StrCat("topic ", topic_, ": dropped the publisher (subscription ",
                   link->subscription_id(), ") for breaking the topic ",
                   "protocol: ", status.message()));
}

absl::StatusOr<std::optional<Sample>> SubscriberCore::OnMessage(
    const std::shared_ptr<SubscriberLink>& link,
    absl::Span<const uint8_t> bytes, std::vector<UniqueFd> fds) {
  absl::StatusOr<topic_wire::Decoded> message =
      topic_wire::Decode(bytes, static_cast<int>(fds.size()));
  absl::Status status = message.status();
  std::optional<Sample> sample;
  if (status.ok() && message->type != topic_wire::Type::kHello &&
      !link->hello) {
    status = absl::InvalidArgumentError(
        absl::StrCat(topic_wire::TypeName(message->type), " before HELLO"));
  } else if (status.ok()) {
    switch (message->type) {
      case topic_wire::Type::kHello:
        status = OnHello(*link, message->As<topic_wire::TopicHello>());
        break;
      case topic_wire::Type::kNewSegment:
        status = OnNewSegment(*link, message->As<topic_wire::TopicNewSegment>(),
                              std::move(fds[0]));
        break;
      case topic_wire::Type::kSample: {
        absl::StatusOr<Sample> s =
            OnSample(link, message->As<topic_wire::SampleRef>());
        if (s.ok()) sample = std::move(*s);
        status = s.status();
        break;
      }
      case topic_wire::Type::kSampleInline: {
        absl::StatusOr<Sample> s = OnInlineSample(link, *message);
        if (s.ok()) sample = std::move(*s);
        status = s.status();
        break;
      }
      case topic_wire::Type::kMissed: {
        MutexLock lock(&mu_);
        stats_.samples_missed += message->U64(0);
        break;
      }
      case topic_wire::Type::kCutOff: {
        Drop(link);
        const auto body = message->As<topic_wire::CutOff>();
        return absl::Status(
            StatusCodeFromWire(static_cast<int>(body.code),
                               absl::StatusCode::kAborted),
            absl::StrCat("topic ", topic_, ": the publisher cut this ",
                         "subscriber off: ", message->reason()));
      }
      case topic_wire::Type::kRelease:
      case topic_wire::Type::kWaiting:
        status = absl::InvalidArgumentError(
            absl::StrCat(topic_wire::TypeName(message->type),
                         ", which only a subscriber sends"));
        break;
      case topic_wire::Type::kBatch:
        if ((features_ & topic_wire::kFeatureBatch) == 0) {
          status = absl::InvalidArgumentError(
              "BATCH, which this subscriber's HELLO did not ask for");
          break;
        }
        // Its messages come next, from buffer_ (OnMessage is not called
        // for a BATCH inside one: NextInBatch refuses it).
        batch_link_ = link;
        batch_next_ =
            static_cast<size_t>(message->body.data() - buffer_.data());
        batch_end_ = batch_next_ + message->body.size();
        break;
    }
  }
  if (!status.ok()) return BrokeProtocol(link, status);
  return sample;
}

absl::Status SubscriberCore::OnHello(SubscriberLink& link,
                                     const topic_wire::TopicHello& hello) {
  if (link.hello) return absl::InvalidArgumentError("a second HELLO");
  if (hello.protocol_version != topic_wire::kProtocolVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "topic protocol version ", hello.protocol_version,
        "; this subscriber speaks ", topic_wire::kProtocolVersion));
  }
  if (hello.role != static_cast<uint16_t>(topic_wire::Role::kPublisher)) {
    return absl::InvalidArgumentError(
        absl::StrCat("HELLO with role ", hello.role, ", expected 1"));
  }
  const SegmentGeometry g{hello.chunk_size, hello.chunk_count};
  if (absl::Status s = ValidateGeometry(g); !s.ok()) return s;
  if (hello.inline_threshold > topic_wire::kMaxInlinePayload ||
      hello.max_segments == 0 || hello.window > TopicSubscription::kMaxWindow) {
    return absl::InvalidArgumentError(absl::StrCat(
        "HELLO: inline_threshold ", hello.inline_threshold, " (max ",
        topic_wire::kMaxInlinePayload, "), max_segments ", hello.max_segments,
        ", window ", hello.window, " (max ", TopicSubscription::kMaxWindow,
        ")"));
  }
  link.hello = hello;
  link.segments.resize(std::min(hello.max_segments, options_.max_segments));
  // Half the window: the publisher can deliver the other half meanwhile.
  link.OnPublisherHello(
      std::max<uint32_t>(1, hello.window / 2),
      uint64_t{hello.max_segments} * g.data_size(),
      (hello.features & features_ & topic_wire::kFeatureWaiting) != 0);
  return absl::OkStatus();
}

absl::Status SubscriberCore::OnNewSegment(
    SubscriberLink& link, const topic_wire::TopicNewSegment& announced,
    UniqueFd fd) {
  const uint32_t id = announced.segment_id;
  if (id >= link.segments.size()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "NEW_SEGMENT ", id, " beyond the ", link.segments.size(),
        " segments allowed (max_segments: publisher ", link.hello->max_segments,
        ", subscriber ", options_.max_segments, ")"));
  }
  if (link.segments[id] != nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("NEW_SEGMENT ", id, " announced twice"));
  }
  const uint64_t size =
      static_cast<uint64_t>(link.hello->chunk_size) * link.hello->chunk_count;
  if (announced.size != size || announced.reserved != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("NEW_SEGMENT ", id, " of ", announced.size,
                     " bytes; the geometry says ", size));
  }
  if (link.mapped_bytes + size > options_.max_mapped_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "NEW_SEGMENT ", id, " would map ", link.mapped_bytes + size,
        " bytes, over max_mapped_bytes ", options_.max_mapped_bytes));
  }
  absl::StatusOr<std::shared_ptr<TopicSegment>> segment =
      TopicSegment::Open(id, std::move(fd), size);
  if (!segment.ok()) return segment.status();
  link.segments[id] = std::move(*segment);
  link.mapped_bytes += size;
  MutexLock lock(&mu_);
  ++stats_.segments_mapped;
  return absl::OkStatus();
}

absl::Status SubscriberCore::CheckSequence(SubscriberLink& link,
                                           uint64_t sequence) {
  if (sequence <= link.last_sequence) {
    return absl::InvalidArgumentError(
        absl::StrCat("sample sequence ", sequence, " after ",
                     link.last_sequence, " (sequences only grow)"));
  }
  link.last_sequence = sequence;
  link.samples_since_waiting = true;
  return absl::OkStatus();
}

absl::StatusOr<Sample> SubscriberCore::OnSample(
    const std::shared_ptr<SubscriberLink>& link,
    const topic_wire::SampleRef& ref) {
  if (ref.segment_id >= link->segments.size() ||
      link->segments[ref.segment_id] == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("SAMPLE ", ref.sequence, " in segment ", ref.segment_id,
                     ", which was not announced"));
  }
  const topic_wire::TopicHello& h = *link->hello;
  const uint64_t room =
      ref.first_chunk < h.chunk_count
          ? static_cast<uint64_t>(h.chunk_count - ref.first_chunk) *
                h.chunk_size
          : 0;
  if (ref.first_chunk >= h.chunk_count || ref.size > room) {
    return absl::InvalidArgumentError(absl::StrCat(
        "SAMPLE ", ref.sequence, ": ", ref.size, " bytes at chunk ",
        ref.first_chunk, " do not fit segment ", ref.segment_id, " (",
        h.chunk_count, " chunks of ", h.chunk_size, ")"));
  }
  if (absl::Status s = CheckSequence(*link, ref.sequence); !s.ok()) return s;
  const std::shared_ptr<TopicSegment>& segment = link->segments[ref.segment_id];
  {
    MutexLock lock(&mu_);
    ++stats_.samples_received;
    stats_.bytes_received += ref.size;
  }
  return TopicAccess::SharedSample(
      link, segment,
      segment->data() + static_cast<uint64_t>(ref.first_chunk) * h.chunk_size,
      ref.size, ref.sequence);
}

absl::StatusOr<Sample> SubscriberCore::OnInlineSample(
    const std::shared_ptr<SubscriberLink>& link,
    const topic_wire::Decoded& message) {
  const uint64_t sequence = message.U64(0);
  const absl::Span<const uint8_t> payload = message.inline_payload();
  if (payload.size() > link->hello->inline_threshold) {
    return absl::InvalidArgumentError(
        absl::StrCat("SAMPLE_INLINE ", sequence, " of ", payload.size(),
                     " bytes, above the publisher's inline_threshold ",
                     link->hello->inline_threshold));
  }
  if (absl::Status s = CheckSequence(*link, sequence); !s.ok()) return s;
  std::unique_ptr<uint8_t[]> bytes(new uint8_t[payload.size() + 1]);
  std::memcpy(bytes.get(), payload.data(), payload.size());
  {
    MutexLock lock(&mu_);
    ++stats_.samples_received;
    stats_.bytes_received += payload.size();
  }
  return TopicAccess::InlineSample(link, std::move(bytes), payload.size(),
                                   sequence);
}

SubscriberStats SubscriberCore::stats() const {
  MutexLock lock(&mu_);
  return stats_;
}

}  // namespace shmport::internal
