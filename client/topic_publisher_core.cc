#include "client/topic_publisher_core.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/topic_access.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/segment.h"

namespace shmport::internal {
namespace {

void Signal(const UniqueFd& eventfd) {
  const uint64_t one = 1;
  (void)!::write(eventfd.get(), &one, sizeof(one));
}

absl::Status ValidateOptions(const PublisherOptions& o) {
  if (absl::Status s = ValidateGeometry(o.geometry); !s.ok()) return s;
  if (o.max_segments < 1 || o.max_segments > 256) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_segments ", o.max_segments, " out of range [1, 256]"));
  }
  if (o.inline_threshold > topic_wire::kMaxInlinePayload) {
    return absl::InvalidArgumentError(
        absl::StrCat("inline_threshold ", o.inline_threshold, " above ",
                     topic_wire::kMaxInlinePayload));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<PublisherCore>> PublisherCore::Create(
    std::string topic, const PublisherOptions& options) {
  if (absl::Status s = ValidateOptions(options); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("topic ", topic, ": ", s.message()));
  }
  UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  UniqueFd memory(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!epoll.valid() || !wake.valid() || !memory.valid()) {
    return ErrnoToStatus(errno, "creating the publisher's epoll/eventfds");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeId;
  if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, wake.get(), &ev) != 0) {
    return ErrnoToStatus(errno, "watching the publisher's wake fd");
  }
  std::shared_ptr<PublisherCore> core(
      new PublisherCore(std::move(topic), options, std::move(epoll),
                        std::move(wake), std::move(memory)));
  core->watcher_ = std::thread([raw = core.get()] { raw->WatchLoop(); });
  return core;
}

PublisherCore::PublisherCore(std::string topic, const PublisherOptions& options,
                             UniqueFd epoll, UniqueFd wake,
                             UniqueFd memory_event)
    : topic_(std::move(topic)),
      options_(options),
      epoll_(std::move(epoll)),
      wake_(std::move(wake)),
      memory_event_(std::move(memory_event)),
      pool_(options.geometry, options.max_segments),
      batch_(topic_wire::kMaxMessageBytes) {}

PublisherCore::~PublisherCore() { Close(); }

void PublisherCore::Close() {
  {
    MutexLock lock(&mu_);
    if (closed_) return;
    closed_ = true;
    while (!subs_.empty()) EndSubscription(*subs_.begin()->second);
    while (!history_.empty()) {
      const uint64_t sequence = history_.front();
      history_.pop_front();
      Unref(sequence);
    }
    room_.SignalAll();
  }
  Signal(wake_);
  if (watcher_.joinable()) watcher_.join();
}

// --- Allocate / Publish ------------------------------------------------

TopicSubscription* PublisherCore::Backlogged() const {
  for (const auto& [id, sub] : subs_) {
    if (sub->backlogged()) return sub.get();
  }
  return nullptr;
}

absl::Status PublisherCore::WaitForRoom(MutexLock* lock,
                                        const Deadline& deadline, size_t size,
                                        std::optional<ChunkRun>* run) {
  const bool shared = size > options_.inline_threshold;
  uint64_t blocked_by = 0;  // the subscription this call waits for
  absl::Time blocked_since;
  for (;;) {
    if (closed_) {
      return absl::FailedPreconditionError(
          absl::StrCat("topic ", topic_, ": the publisher is closed"));
    }
    TopicSubscription* backlogged = Backlogged();
    if (backlogged != nullptr && backlogged->id() != blocked_by) {
      blocked_by = backlogged->id();
      blocked_since = absl::Now();
    }
    const bool bounded = options_.max_block != absl::InfiniteDuration();
    if (backlogged != nullptr && bounded &&
        absl::Now() - blocked_since >= options_.max_block) {
      CutOff(*backlogged, TooSlow(*backlogged));
      continue;
    }
    if (backlogged == nullptr && shared) {
      absl::StatusOr<std::optional<ChunkRun>> got = pool_.Allocate(size);
      if (!got.ok()) return got.status();
      *run = *got;
    }
    if (backlogged == nullptr && (!shared || run->has_value())) {
      return absl::OkStatus();
    }
    if (deadline.passed()) return NoRoom(backlogged, size, deadline);
    absl::Time wake = deadline.at();
    if (backlogged != nullptr && bounded) {
      wake = std::min(wake, blocked_since + options_.max_block);
    }
    room_.WaitUntil(lock, absl::ToChronoTime(wake));
  }
}

absl::Status PublisherCore::TooSlow(const TopicSubscription& sub) const {
  return absl::DeadlineExceededError(absl::StrCat(
      "topic ", topic_, ": subscription ", sub.id(), " (kBlockPublisher) ",
      "kept the publisher waiting for ",
      absl::FormatDuration(options_.max_block), " (max_block) with ",
      sub.queued().size(), " samples queued and ", sub.held().size(), " held"));
}

absl::Status PublisherCore::NoRoom(const TopicSubscription* backlogged,
                                   size_t size,
                                   const Deadline& deadline) const {
  if (backlogged != nullptr) {
    return absl::DeadlineExceededError(absl::StrCat(
        "topic ", topic_, ": subscription ", backlogged->id(),
        " (kBlockPublisher) still has ", backlogged->queued().size(),
        " samples queued (its queue_depth) after ",
        absl::FormatDuration(deadline.timeout())));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "topic ", topic_, ": no run of ", pool_.ChunksFor(size),
      " free chunks for ", size, " bytes after ",
      absl::FormatDuration(deadline.timeout()), " (", pool_.chunks_in_use(),
      " chunks in use in ", pool_.segment_count(), " of max_segments ",
      pool_.max_segments(), ")"));
}

absl::StatusOr<SampleBuffer> PublisherCore::Allocate(size_t size,
                                                     const Deadline& deadline) {
  const uint64_t max_bytes = options_.geometry.data_size();
  if (size > max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "topic ", topic_, ": sample of ", size, " bytes exceeds a segment's ",
        max_bytes, " (chunk_size x chunk_count)"));
  }
  std::optional<ChunkRun> run;
  uint8_t* data = nullptr;
  {
    MutexLock lock(&mu_);
    if (absl::Status s = WaitForRoom(&lock, deadline, size, &run); !s.ok()) {
      if (run) pool_.Free(*run);
      return s;
    }
    if (run) data = pool_.data(*run);
  }
  if (!run) return TopicAccess::InlineBuffer(shared_from_this(), size);
  return TopicAccess::SharedBuffer(
      shared_from_this(), *run, data,
      static_cast<size_t>(run->count) * options_.geometry.chunk_size, size);
}

void PublisherCore::ReturnChunks(const ChunkRun& run) {
  MutexLock lock(&mu_);
  pool_.Free(run);
  MemoryReturned();
}

absl::StatusOr<uint64_t> PublisherCore::Publish(SampleBuffer buffer) {
  if (TopicAccess::Owner(buffer) != this) {
    return absl::InvalidArgumentError(absl::StrCat(
        "topic ", topic_, ": the buffer is not one of this publisher's"));
  }
  SampleRecord record;
  record.size = buffer.size();
  if (buffer.in_shared_memory()) record.run = TopicAccess::Run(buffer);
  std::unique_ptr<uint8_t[]> bytes = TopicAccess::Disown(buffer);
  if (bytes) {
    record.inline_bytes = std::make_shared<const std::vector<uint8_t>>(
        bytes.get(), bytes.get() + record.size);
  }
  MutexLock lock(&mu_);
  if (closed_) {
    if (record.run.count > 0) pool_.Free(record.run);
    return absl::FailedPreconditionError(
        absl::StrCat("topic ", topic_, ": the publisher is closed"));
  }
  const uint64_t sequence = next_sequence_++;
  ++samples_published_;
  record.refs = 1;  // ours until the loop below is done
  samples_.emplace(sequence, std::move(record));
  if (options_.history > 0) {
    ++samples_[sequence].refs;
    history_.push_back(sequence);
    if (history_.size() > options_.history) {
      const uint64_t old = history_.front();
      history_.pop_front();
      Unref(old);
    }
  }
  std::vector<TopicSubscription*> subs;
  for (auto& [id, sub] : subs_) subs.push_back(sub.get());
  for (TopicSubscription* sub : subs) {
    ++samples_[sequence].refs;
    if (std::optional<uint64_t> dropped = sub->Enqueue(sequence)) {
      Unref(*dropped);
    }
    Pump(*sub);
  }
  Unref(sequence);
  return sequence;
}

// --- Delivery ----------------------------------------------------------

bool PublisherCore::Pump(TopicSubscription& sub) {
  while (sub.can_deliver()) {
    absl::Status s = AnnounceSegments(sub);
    const uint64_t misses = s.ok() ? sub.TakeUnreportedMisses() : 0;
    if (s.ok() && misses > 0) {
      s = sub.channel()->Send(
          topic_wire::Message(topic_wire::Type::kMissed).Put(misses).bytes(),
          {}, false, /*dont_wait=*/true);
      if (!s.ok()) sub.RestoreUnreportedMisses(misses);
    }
    const size_t deliverable = s.ok() ? WithinHoldBound(sub) : 0;
    if (s.ok() && deliverable == 0) {
      CutOff(sub,
             absl::ResourceExhaustedError(absl::StrCat(
                 "topic ", topic_, ": subscription ", sub.id(), " holds ",
                 sub.held().size(), " samples (", sub.stats().held_bytes,
                 " bytes); one more would pass ",
                 "the publisher's max_held_bytes ", options_.max_held_bytes)));
      return false;
    }
    size_t sent = 0;
    if (s.ok()) {
      absl::StatusOr<size_t> n = SendNext(sub, deliverable);
      s = n.status();
      if (s.ok()) sent = *n;
    }
    if (IsWouldBlock(s)) {
      ArmWritable(sub, true);
      return true;
    }
    if (!s.ok()) {
      // The socket failed: nobody to tell, but the operator should know.
      if (!absl::IsUnavailable(s)) {
        Log(LogLevel::kWarning, "topic_subscription_failed",
            {{"topic", topic_},
             {"subscription", sub.id()},
             {"error", s.message()}});
      }
      EndSubscription(sub);
      return false;
    }
    for (size_t i = 0; i < sent; ++i) {
      const uint64_t sequence = sub.next_queued();
      const SampleRecord& record = samples_.at(sequence);
      sub.Delivered(sequence, record.run.count, ChunkBytes(record));
    }
    // Reading now: with kFeatureWaiting the next ones wait for its WAITING
    // (one wake-up and one datagram for all that queue meanwhile).
    sub.waiting = false;
  }
  return true;
}

uint64_t PublisherCore::ChunkBytes(const SampleRecord& record) const {
  return static_cast<uint64_t>(record.run.count) * options_.geometry.chunk_size;
}

size_t PublisherCore::WithinHoldBound(const TopicSubscription& sub) const {
  const size_t room =
      std::min<size_t>(sub.queued().size(), sub.window() - sub.held().size());
  if (options_.max_held_bytes == 0) return room;
  uint64_t held = sub.stats().held_bytes;
  size_t n = 0;
  for (; n < room; ++n) {
    held += ChunkBytes(samples_.at(sub.queued()[n]));
    if (held > options_.max_held_bytes) break;
  }
  return n;
}

absl::StatusOr<size_t> PublisherCore::SendNext(TopicSubscription& sub,
                                               size_t deliverable) {
  size_t count = 0;
  size_t used = topic_wire::kHeaderBytes;  // the BATCH header
  // Several samples ready for a subscriber that takes BATCH: one datagram
  // (and at most one wake-up) for all that fit (decision D31).
  while (sub.takes_batches && deliverable > 1 && count < deliverable) {
    const uint64_t sequence = sub.queued()[count];
    const SampleRecord& record = samples_.at(sequence);
    const bool inline_sample = record.run.count == 0;
    const size_t body = inline_sample ? sizeof(uint64_t) + record.size
                                      : sizeof(topic_wire::SampleRef);
    const size_t size =
        topic_wire::BatchedSize(topic_wire::kHeaderBytes + body);
    if (used + size > topic_wire::kMaxMessageBytes) break;
    uint8_t* out = batch_.data() + used;
    topic_wire::Header h{};
    h.type =
        static_cast<uint8_t>(inline_sample ? topic_wire::Type::kSampleInline
                                           : topic_wire::Type::kSample);
    h.length = static_cast<uint32_t>(body);
    std::memset(out, 0, size);
    std::memcpy(out, &h, sizeof(h));
    out += sizeof(h);
    if (inline_sample) {
      std::memcpy(out, &sequence, sizeof(sequence));
      if (record.size > 0) {  // an empty sample's vector has no data()
        std::memcpy(out + sizeof(sequence), record.inline_bytes->data(),
                    record.size);
      }
    } else {
      const topic_wire::SampleRef ref{sequence, record.run.segment,
                                      record.run.first, record.size};
      std::memcpy(out, &ref, sizeof(ref));
    }
    used += size;
    ++count;
  }
  if (count == 0) {  // one sample, or one too large to batch
    const uint64_t sequence = sub.next_queued();
    absl::Status s = SendSample(sub, sequence, samples_.at(sequence));
    if (!s.ok()) return s;
    return 1;
  }
  topic_wire::Header h{};
  h.type = static_cast<uint8_t>(topic_wire::Type::kBatch);
  h.length = static_cast<uint32_t>(used - topic_wire::kHeaderBytes);
  std::memcpy(batch_.data(), &h, sizeof(h));
  absl::Status s = sub.channel()->Send(absl::MakeConstSpan(batch_.data(), used),
                                       {}, false, /*dont_wait=*/true);
  if (!s.ok()) return s;
  return count;
}

absl::Status PublisherCore::SendHello(TopicSubscription& sub) {
  topic_wire::TopicHello hello{};
  hello.protocol_version = topic_wire::kProtocolVersion;
  hello.role = static_cast<uint16_t>(topic_wire::Role::kPublisher);
  hello.chunk_size = options_.geometry.chunk_size;
  hello.chunk_count = options_.geometry.chunk_count;
  hello.max_segments = options_.max_segments;
  hello.inline_threshold = options_.inline_threshold;
  hello.window = sub.window();
  hello.subscription_id = sub.id();
  hello.history = std::min<uint32_t>(sub.terms().history, history_.size());
  hello.features = topic_wire::kFeatureWaiting;
  return sub.channel()->Send(
      topic_wire::Message(topic_wire::Type::kHello).Put(hello).bytes(), {},
      false, /*dont_wait=*/true);
}

absl::Status PublisherCore::AnnounceSegments(TopicSubscription& sub) {
  while (sub.segments_announced < pool_.segment_count()) {
    const TopicSegment& segment = pool_.segment(sub.segments_announced);
    topic_wire::TopicNewSegment body{};
    body.segment_id = segment.id();
    body.size = segment.size();
    const int fd = segment.fd();
    absl::Status s = sub.channel()->Send(
        topic_wire::Message(topic_wire::Type::kNewSegment).Put(body).bytes(),
        absl::MakeConstSpan(&fd, 1), false, /*dont_wait=*/true);
    if (!s.ok()) return s;
    ++sub.segments_announced;
  }
  return absl::OkStatus();
}

absl::Status PublisherCore::SendSample(TopicSubscription& sub,
                                       uint64_t sequence,
                                       const SampleRecord& record) {
  if (record.run.count == 0) {
    topic_wire::Message m(topic_wire::Type::kSampleInline);
    m.Put(sequence);
    const absl::Span<const uint8_t> head = m.bytes(record.size);
    const iovec parts[2] = {
        {const_cast<uint8_t*>(head.data()), head.size()},
        {const_cast<uint8_t*>(record.inline_bytes->data()), record.size}};
    return sub.channel()->Send(absl::MakeConstSpan(parts), {}, false, true);
  }
  topic_wire::SampleRef ref{sequence, record.run.segment, record.run.first,
                            record.size};
  return sub.channel()->Send(
      topic_wire::Message(topic_wire::Type::kSample).Put(ref).bytes(), {},
      false, /*dont_wait=*/true);
}

void PublisherCore::ArmWritable(TopicSubscription& sub, bool on) {
  sub.send_blocked = on;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | (on ? uint32_t{EPOLLOUT} : 0u);
  ev.data.u64 = sub.id();
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, sub.channel()->fd(), &ev);
}

// --- Subscriptions -----------------------------------------------------

void PublisherCore::OnSubscriptionOpened(SubscriptionOpened opened) {
  auto channel = std::make_shared<UnixChannel>(std::move(opened.socket));
  MutexLock lock(&mu_);
  if (closed_ || subs_.contains(opened.subscription_id)) return;
  auto owned = std::make_unique<TopicSubscription>(
      opened.subscription_id, opened.terms, std::move(channel));
  TopicSubscription& sub = *owned;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.u64 = sub.id();
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, sub.channel()->fd(), &ev) != 0) {
    return;  // the socket closes with `owned`; the subscriber sees EOF
  }
  subs_.emplace(sub.id(), std::move(owned));
  if (!SendHello(sub).ok()) {
    EndSubscription(sub);
    return;
  }
  // The last `history` samples first, then (from the next Publish on) the
  // live stream: under one lock hold, so nothing falls between.
  const size_t n = std::min<size_t>(sub.terms().history, history_.size());
  for (size_t i = history_.size() - n; i < history_.size(); ++i) {
    ++samples_[history_[i]].refs;
    if (std::optional<uint64_t> dropped = sub.Enqueue(history_[i])) {
      Unref(*dropped);
    }
  }
  Pump(sub);
}

void PublisherCore::OnSubscriptionClosed(uint64_t subscription_id,
                                         const absl::Status&) {
  MutexLock lock(&mu_);
  auto it = subs_.find(subscription_id);
  if (it != subs_.end()) EndSubscription(*it->second);
}

void PublisherCore::CutOff(TopicSubscription& sub, const absl::Status& reason) {
  ++cut_off_;
  Log(LogLevel::kWarning, "topic_subscriber_cut_off",
      {{"topic", topic_},
       {"subscription", sub.id()},
       {"reason", reason.message()}});
  topic_wire::CutOff body{static_cast<uint32_t>(reason.code()), 0};
  const absl::string_view text = reason.message().substr(
      0,
      std::min<size_t>(reason.message().size(), topic_wire::kMaxReasonBytes));
  topic_wire::Message m(topic_wire::Type::kCutOff);
  m.Put(body);
  const absl::Span<const uint8_t> head = m.bytes(text.size());
  const iovec parts[2] = {{const_cast<uint8_t*>(head.data()), head.size()},
                          {const_cast<char*>(text.data()), text.size()}};
  (void)sub.channel()->Send(absl::MakeConstSpan(parts), {}, false, true);
  EndSubscription(sub);
}

void PublisherCore::EndSubscription(TopicSubscription& sub) {
  const int fd = sub.channel()->fd();
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  // The watcher may still be reading this socket: shut it down rather
  // than close it, so the number is not reused under it.
  ::shutdown(fd, SHUT_RDWR);
  std::vector<uint64_t> refs(sub.queued().begin(), sub.queued().end());
  refs.insert(refs.end(), sub.held().begin(), sub.held().end());
  subs_.erase(sub.id());  // destroys `sub`
  for (uint64_t sequence : refs) Unref(sequence);
  room_.SignalAll();
}

void PublisherCore::Unref(uint64_t sequence) {
  auto it = samples_.find(sequence);
  if (--it->second.refs > 0) return;
  if (it->second.run.count > 0) {
    pool_.Free(it->second.run);
    MemoryReturned();
  }
  samples_.erase(it);
}

void PublisherCore::MemoryReturned() {
  room_.SignalAll();
  Signal(memory_event_);
}

// --- Stats -------------------------------------------------------------

std::vector<SubscriptionStats> PublisherCore::Stats() const {
  MutexLock lock(&mu_);
  std::vector<SubscriptionStats> out;
  for (const auto& [id, sub] : subs_) out.push_back(sub->stats());
  return out;
}

PublisherStats PublisherCore::stats() const {
  PublisherStats s;
  for (const SubscriptionStats& sub : Stats()) {
    s.subscriptions.push_back({sub.subscription_id, sub.samples_delivered,
                               sub.samples_released, sub.samples_dropped,
                               sub.lag, sub.held_chunks, sub.held_bytes});
  }
  MutexLock lock(&mu_);
  s.samples_published = samples_published_;
  s.chunks_in_use = pool_.chunks_in_use();
  s.segments = pool_.segment_count();
  s.subscriptions_cut_off = cut_off_;
  return s;
}

}  // namespace shmport::internal
