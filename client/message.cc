#include "shmport/message.h"

#include <cstring>
#include <utility>

#include "client/port_core.h"
#include "common/segment.h"

namespace shmport {

Message::Message(Message&& other) noexcept
    : core_(std::move(other.core_)),
      fragments_(std::move(other.fragments_)),
      inline_heap_(std::move(other.inline_heap_)),
      size_(std::exchange(other.size_, 0)),
      stream_(other.stream_),
      last_(other.last_) {
  other.fragments_.clear();
  if (fragments_.empty() && inline_heap_ == nullptr && size_ > 0) {
    std::memcpy(small_, other.small_, size_);
  }
}

Message& Message::operator=(Message&& other) noexcept {
  if (this != &other) {
    Release();
    core_ = std::move(other.core_);
    fragments_ = std::move(other.fragments_);
    other.fragments_.clear();
    inline_heap_ = std::move(other.inline_heap_);
    size_ = std::exchange(other.size_, 0);
    stream_ = other.stream_;
    last_ = other.last_;
    if (fragments_.empty() && inline_heap_ == nullptr && size_ > 0) {
      std::memcpy(small_, other.small_, size_);
    }
  }
  return *this;
}

Message::~Message() { Release(); }

uint8_t* Message::PrepareInline(size_t n) {
  size_ = n;
  if (n <= kSmallInline) return small_;
  inline_heap_.reset(new uint8_t[n]);
  return inline_heap_.get();
}

void Message::Release() {
  if (fragments_.empty()) {  // inline or moved-from: nothing shared
    inline_heap_.reset();
    size_ = 0;
    return;
  }
  for (Fragment& f : fragments_) {
    // Freed in place, in the sender's shared free map.
    f.segment->chunks().Free(f.first_chunk, f.chunk_count);
    if (core_ != nullptr) core_->OnIncomingFreed(*f.segment);
  }
  fragments_.clear();
  core_.reset();
  size_ = 0;
}

void Message::CopyTo(uint8_t* out) const {
  for (size_t i = 0; i < fragment_count(); ++i) {
    const absl::Span<const uint8_t> f = fragment(i);
    std::memcpy(out, f.data(), f.size());
    out += f.size();
  }
}

std::string Message::ToString() const {
  std::string s(size_, '\0');
  CopyTo(reinterpret_cast<uint8_t*>(s.data()));
  return s;
}

}  // namespace shmport
