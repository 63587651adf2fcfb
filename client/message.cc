#include "client/message.h"

#include <cstring>
#include <utility>

#include "client/port_core.h"
#include "common/segment.h"

namespace shmport {

Message& Message::operator=(Message&& other) noexcept {
  if (this != &other) {
    Release();
    core_ = std::move(other.core_);
    fragments_ = std::move(other.fragments_);
    other.fragments_.clear();
    inline_ = std::move(other.inline_);
    size_ = std::exchange(other.size_, 0);
    stream_ = other.stream_;
    last_ = other.last_;
  }
  return *this;
}

Message::~Message() { Release(); }

void Message::Release() {
  for (Fragment& f : fragments_) {
    if (f.segment == nullptr) continue;
    // Freed in place, in the sender's shared free map.
    f.segment->chunks().Free(f.first_chunk, f.chunk_count);
    if (core_ != nullptr) core_->OnIncomingFreed(*f.segment);
  }
  fragments_.clear();
  inline_.reset();
  core_.reset();
  size_ = 0;
}

bool Message::in_shared_memory() const {
  for (const Fragment& f : fragments_) {
    if (f.segment != nullptr) return true;
  }
  return false;
}

void Message::CopyTo(uint8_t* out) const {
  for (const Fragment& f : fragments_) {
    std::memcpy(out, f.data, f.size);
    out += f.size;
  }
}

std::string Message::ToString() const {
  std::string s(size_, '\0');
  CopyTo(reinterpret_cast<uint8_t*>(s.data()));
  return s;
}

}  // namespace shmport
