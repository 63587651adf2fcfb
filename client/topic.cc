// The public topic types: thin handles over the cores.
#include "shmport/topic.h"

#include <utility>

#include "client/deadline.h"
#include "client/topic_access.h"
#include "client/topic_publisher_core.h"
#include "client/topic_subscriber_core.h"
#include "client/topic_subscriber_link.h"

namespace shmport {

// --- SampleBuffer ------------------------------------------------------

SampleBuffer::SampleBuffer(SampleBuffer&& other) noexcept
    : core_(std::move(other.core_)),
      segment_(other.segment_),
      first_chunk_(other.first_chunk_),
      chunk_count_(std::exchange(other.chunk_count_, 0)),
      inline_(std::move(other.inline_)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)) {}

SampleBuffer& SampleBuffer::operator=(SampleBuffer&& other) noexcept {
  if (this != &other) {
    Release();
    core_ = std::move(other.core_);
    segment_ = other.segment_;
    first_chunk_ = other.first_chunk_;
    chunk_count_ = std::exchange(other.chunk_count_, 0);
    inline_ = std::move(other.inline_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
  }
  return *this;
}

SampleBuffer::~SampleBuffer() { Release(); }

void SampleBuffer::Release() {
  if (core_ && chunk_count_ > 0) {
    core_->ReturnChunks({segment_, first_chunk_, chunk_count_});
  }
  core_.reset();
  inline_.reset();
  chunk_count_ = 0;
  data_ = nullptr;
}

bool SampleBuffer::Resize(size_t n) {
  if (n > capacity_) return false;
  size_ = n;
  return true;
}

// --- Sample ------------------------------------------------------------

Sample::Sample(Sample&& other) noexcept
    : link_(std::move(other.link_)),
      mapping_(std::move(other.mapping_)),
      inline_(std::move(other.inline_)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      sequence_(other.sequence_) {}

Sample& Sample::operator=(Sample&& other) noexcept {
  if (this != &other) {
    Release();
    link_ = std::move(other.link_);
    mapping_ = std::move(other.mapping_);
    inline_ = std::move(other.inline_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    sequence_ = other.sequence_;
  }
  return *this;
}

Sample::~Sample() { Release(); }

void Sample::Release() {
  if (link_) link_->Release(sequence_, inline_ ? 0 : size_);
  link_.reset();
  mapping_.reset();
  inline_.reset();
  data_ = nullptr;
  size_ = 0;
}

// --- Publisher ---------------------------------------------------------

Publisher::Publisher(std::shared_ptr<internal::PublisherCore> core)
    : core_(std::move(core)) {}

Publisher::~Publisher() {
  registration_.reset();  // the Session stops routing to the core first
  core_->Close();
}

absl::StatusOr<SampleBuffer> Publisher::Allocate(size_t size,
                                                 absl::Duration timeout) {
  return core_->Allocate(size, internal::Deadline(timeout));
}

absl::StatusOr<SampleBuffer> Publisher::TryAllocate(size_t size) {
  return core_->Allocate(size, internal::Deadline::Passed());
}

absl::StatusOr<uint64_t> Publisher::Publish(SampleBuffer buffer) {
  return core_->Publish(std::move(buffer));
}

int Publisher::fd() const { return core_->fd(); }
PublisherStats Publisher::stats() const { return core_->stats(); }
const std::string& Publisher::topic() const { return core_->topic(); }

// --- Subscriber --------------------------------------------------------

Subscriber::Subscriber(std::shared_ptr<internal::SubscriberCore> core)
    : core_(std::move(core)) {}

Subscriber::~Subscriber() {
  registration_.reset();
  core_->Close();
}

absl::StatusOr<Sample> Subscriber::Receive(absl::Duration timeout) {
  return core_->Receive(internal::Deadline(timeout), /*wait=*/true);
}

absl::StatusOr<Sample> Subscriber::TryReceive() {
  return core_->Receive(internal::Deadline::Passed(), /*wait=*/false);
}

int Subscriber::fd() const { return core_->fd(); }
SubscriberStats Subscriber::stats() const { return core_->stats(); }
const std::string& Subscriber::topic() const { return core_->topic(); }

}  // namespace shmport
