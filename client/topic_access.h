// TopicAccess: the library's one door into the private parts of the topic
// types (SampleBuffer, Sample, Publisher, Subscriber).
#ifndef SHMPORT_CLIENT_TOPIC_ACCESS_H_
#define SHMPORT_CLIENT_TOPIC_ACCESS_H_

#include <cstdint>
#include <memory>
#include <utility>

#include "client/topic_pool.h"
#include "shmport/topic.h"

namespace shmport::internal {

struct TopicAccess {
  static SampleBuffer SharedBuffer(std::shared_ptr<PublisherCore> core,
                                   const ChunkRun& run, uint8_t* data,
                                   size_t capacity, size_t size) {
    SampleBuffer b;
    b.core_ = std::move(core);
    b.segment_ = run.segment;
    b.first_chunk_ = run.first;
    b.chunk_count_ = run.count;
    b.data_ = data;
    b.capacity_ = capacity;
    b.size_ = size;
    return b;
  }
  static SampleBuffer InlineBuffer(std::shared_ptr<PublisherCore> core,
                                   size_t size) {
    SampleBuffer b;
    b.core_ = std::move(core);
    b.inline_.reset(new uint8_t[size > 0 ? size : 1]);
    b.data_ = b.inline_.get();
    b.capacity_ = size;
    b.size_ = size;
    return b;
  }
  static const PublisherCore* Owner(const SampleBuffer& b) {
    return b.core_.get();
  }
  static ChunkRun Run(const SampleBuffer& b) {
    return {b.segment_, b.first_chunk_, b.chunk_count_};
  }
  // The buffer gives up its chunks (they now belong to a published
  // sample); the inline bytes move out.
  static std::unique_ptr<uint8_t[]> Disown(SampleBuffer& b) {
    b.core_.reset();
    b.data_ = nullptr;
    b.chunk_count_ = 0;
    return std::move(b.inline_);
  }

  static Sample SharedSample(std::shared_ptr<SubscriberLink> link,
                             std::shared_ptr<const void> mapping,
                             const uint8_t* data, size_t size,
                             uint64_t sequence) {
    Sample s;
    s.link_ = std::move(link);
    s.mapping_ = std::move(mapping);
    s.data_ = data;
    s.size_ = size;
    s.sequence_ = sequence;
    return s;
  }
  static Sample InlineSample(std::shared_ptr<SubscriberLink> link,
                             std::unique_ptr<uint8_t[]> bytes, size_t size,
                             uint64_t sequence) {
    Sample s;
    s.link_ = std::move(link);
    s.inline_ = std::move(bytes);
    s.data_ = s.inline_.get();
    s.size_ = size;
    s.sequence_ = sequence;
    return s;
  }

  static PublisherCore& Core(const Publisher& p) { return *p.core_; }
  static SubscriberCore& Core(const Subscriber& s) { return *s.core_; }

  static std::unique_ptr<Publisher> NewPublisher(
      std::shared_ptr<PublisherCore> core,
      std::shared_ptr<void> registration = nullptr) {
    std::unique_ptr<Publisher> p(new Publisher(std::move(core)));
    p->registration_ = std::move(registration);
    return p;
  }
  static std::unique_ptr<Subscriber> NewSubscriber(
      std::shared_ptr<SubscriberCore> core,
      std::shared_ptr<void> registration = nullptr) {
    std::unique_ptr<Subscriber> s(new Subscriber(std::move(core)));
    s->registration_ = std::move(registration);
    return s;
  }
};

}  // namespace shmport::internal

#endif  // SHMPORT_CLIENT_TOPIC_ACCESS_H_
