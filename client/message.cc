#include "shmport/message.h"

#include <cstring>
#include <utility>

#include "client/port_core.h"
#include "common/segment.h"

namespace shmport {

Message::Message(Message&& other) noexcept { TakeFrom(other); }

Message& Message::operator=(Message&& other) noexcept {
  if (this != &other) {
    Release();
    TakeFrom(other);
  }
  return *this;
}

void Message::TakeFrom(Message& other) {
  core_ = std::move(other.core_);
  fragments_ = std::exchange(other.fragments_, 0);
  inline_heap_ = std::move(other.inline_heap_);
  size_ = std::exchange(other.size_, 0);
  stream_ = other.stream_;
  last_ = other.last_;
  if (fragments_ != 0) {
    first_ = std::move(other.first_);
    if (fragments_ > 1) more_ = std::exchange(other.more_, {});
  } else if (inline_heap_ == nullptr) {
    std::memcpy(small_, other.small_, kSmallInline);  // all: no call, no loop
  }
}

Message::~Message() { Release(); }

uint8_t* Message::PrepareInline(size_t n) {
  size_ = n;
  if (n <= kSmallInline) return small_;
  inline_heap_.reset(new uint8_t[n]);
  return inline_heap_.get();
}

void Message::Release() {
  if (fragments_ == 0) {  // inline or moved-from: nothing shared
    if (inline_heap_ != nullptr) inline_heap_.reset();
    size_ = 0;
    return;
  }
  auto free = [this](Fragment& f) {
    // Freed in place, in the sender's shared free map.
    f.segment->chunks().Free(f.first_chunk, f.chunk_count);
    if (core_ != nullptr) core_->OnIncomingFreed(*f.segment);
    f.segment.reset();
  };
  free(first_);
  for (Fragment& f : more_) free(f);
  more_.clear();
  fragments_ = 0;
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
