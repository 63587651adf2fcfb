#include "shmport/buffer.h"

#include <utility>

#include "client/inline_blocks.h"
#include "client/port_core.h"
#include "common/segment.h"

namespace shmport {

Buffer::Buffer(Buffer&& other) noexcept
    : core_(std::move(other.core_)),
      segment_(std::move(other.segment_)),
      first_chunk_(other.first_chunk_),
      chunk_count_(other.chunk_count_),
      inline_(std::move(other.inline_)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)) {}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  if (this != &other) {
    Release();
    core_ = std::move(other.core_);
    segment_ = std::move(other.segment_);
    first_chunk_ = other.first_chunk_;
    chunk_count_ = other.chunk_count_;
    inline_ = std::move(other.inline_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
  }
  return *this;
}

Buffer::~Buffer() { Release(); }

void Buffer::Release() {
  if (segment_ != nullptr) {
    segment_->chunks().Free(first_chunk_, chunk_count_);
    if (core_ != nullptr) core_->OnOutgoingFreed();
    segment_.reset();
  }
  core_.reset();
  internal::InlineBlocks::Give(std::move(inline_), capacity_);
  data_ = nullptr;
  size_ = capacity_ = 0;
}

bool Buffer::Resize(size_t n) {
  if (n > capacity_) return false;
  size_ = n;
  return true;
}

bool Buffer::TryExtend(size_t new_size) {
  if (new_size <= capacity_) {
    if (data_ == nullptr) return false;
    size_ = new_size;
    return true;
  }
  if (segment_ == nullptr) return false;  // inline: fixed capacity
  const uint64_t chunk = segment_->geometry().chunk_size;
  const uint64_t extra = (new_size - capacity_ + chunk - 1) / chunk;
  if (extra > segment_->geometry().chunk_count) return false;
  if (!segment_->chunks().TryClaim(first_chunk_ + chunk_count_,
                                   static_cast<uint32_t>(extra))) {
    return false;
  }
  chunk_count_ += static_cast<uint32_t>(extra);
  capacity_ += extra * chunk;
  size_ = new_size;
  return true;
}

}  // namespace shmport
