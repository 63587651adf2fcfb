// MessageQueue: a FIFO of received Messages that reuses its slots.
#ifndef SHMPORT_CLIENT_MESSAGE_QUEUE_H_
#define SHMPORT_CLIENT_MESSAGE_QUEUE_H_

#include <cstddef>
#include <utility>
#include <vector>

#include "shmport/message.h"

namespace shmport::internal {

// A ring of Message slots that grows (doubling) when full and shrinks only
// back to none when used again after a burst: a port's inbox in the steady
// state, where messages come and go one at a time, allocates nothing (a
// std::deque allocates a node every few messages and frees one). The part of
// std::deque the inbox uses. Not thread-safe (the owner's lock guards it).
class MessageQueue {
 public:
  bool empty() const { return count_ == 0; }
  size_t size() const { return count_; }
  Message& front() { return slots_[head_]; }
  // Drops the front message (what it still holds is released now).
  void pop_front() {
    Clear(slots_[head_]);
    Advance();
  }
  // Removes the front message and returns it to be moved from (one move,
  // no destruction here); the reference is valid until the next push.
  Message&& TakeFront() {
    Message& m = slots_[head_];
    Advance();
    return std::move(m);
  }
  void push_back(Message&& message) { emplace_back() = std::move(message); }
  // A new empty message at the back, to be filled in place.
  Message& emplace_back() {
    if (count_ == 0 && slots_.size() > kKeptWhenEmpty) {
      std::vector<Message>().swap(slots_);  // a burst is over
      head_ = 0;
    }
    if (count_ == slots_.size()) Grow();
    Message& m = slots_[(head_ + count_++) & (slots_.size() - 1)];
    Clear(m);  // a TakeFront that was not moved from
    return m;
  }
  void swap(MessageQueue& other) noexcept {
    slots_.swap(other.slots_);
    std::swap(head_, other.head_);
    std::swap(count_, other.count_);
  }

 private:
  void Advance() {
    head_ = (head_ + 1) & (slots_.size() - 1);
    --count_;
  }
  static void Clear(Message& m) {
    if (m.in_shared_memory() || m.size() > 0) m = Message();
  }
  void Grow() {
    std::vector<Message> bigger(slots_.empty() ? 8 : 2 * slots_.size());
    for (size_t i = 0; i < count_; ++i) {
      bigger[i] = std::move(slots_[(head_ + i) & (slots_.size() - 1)]);
    }
    slots_.swap(bigger);
    head_ = 0;
  }

  // Slots kept once the queue empties again (the rest go back).
  static constexpr size_t kKeptWhenEmpty = 1024;

  std::vector<Message> slots_;  // a power of two of them, or none
  size_t head_ = 0;
  size_t count_ = 0;
};

}  // namespace shmport::internal

#endif  // SHMPORT_CLIENT_MESSAGE_QUEUE_H_
