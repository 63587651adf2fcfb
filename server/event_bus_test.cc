#include "server/event_bus.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace shmport::server {
namespace {

// Records what it is offered (by reference, as a stream queues them);
// refuses once `capacity` events are held. The bus calls Offer from its
// fan-out thread; tests read after EventBus::Drain().
class RecordingWatcher : public EventWatcher {
 public:
  explicit RecordingWatcher(size_t capacity = 1000) : capacity_(capacity) {}
  bool Offer(const EventRef& event) override {
    if (events.size() >= capacity_) return false;
    events.push_back(event);
    if (thread_id == std::thread::id()) thread_id = std::this_thread::get_id();
    return true;
  }
  void OnBusClosed() override { closed = true; }
  std::vector<EventRef> events;
  std::thread::id thread_id;
  bool closed = false;

 private:
  size_t capacity_;
};

v1::Event Kind(v1::Event::Kind kind) {
  v1::Event e;
  e.set_kind(kind);
  return e;
}

TEST(EventBusTest, EveryWatcherSeesEveryEventWithConsecutiveSequences) {
  EventBus bus;
  RecordingWatcher w1, w2;
  ASSERT_TRUE(bus.Subscribe(&w1));
  ASSERT_TRUE(bus.Subscribe(&w2));
  EXPECT_EQ(bus.Publish(Kind(v1::Event::PROCESS_REGISTERED)), 1u);
  EXPECT_EQ(bus.Publish(Kind(v1::Event::PORT_OPENED)), 2u);
  bus.Drain();
  for (RecordingWatcher* w : {&w1, &w2}) {
    ASSERT_EQ(w->events.size(), 2u);
    EXPECT_EQ(w->events[0]->event.sequence(), 1u);
    EXPECT_EQ(w->events[1]->event.sequence(), 2u);
    EXPECT_EQ(w->events[1]->event.kind(), v1::Event::PORT_OPENED);
    EXPECT_GT(w->events[1]->event.time_unix_ms(), 0);
  }
}

TEST(EventBusTest, WatchersShareOneCopyOfEachEvent) {
  EventBus bus;
  RecordingWatcher w1, w2;
  bus.Subscribe(&w1);
  bus.Subscribe(&w2);
  v1::Event big = Kind(v1::Event::PROCESS_REGISTERED);
  (*big.mutable_process()->mutable_labels())["k"] = std::string(200, 'v');
  bus.Publish(big);
  bus.Drain();
  ASSERT_EQ(w1.events.size(), 1u);
  ASSERT_EQ(w2.events.size(), 1u);
  EXPECT_EQ(w1.events[0].get(), w2.events[0].get());
  EXPECT_EQ(w1.events[0]->bytes, w1.events[0]->event.ByteSizeLong());
  EXPECT_GT(w1.events[0]->bytes, 200u);
}

TEST(EventBusTest, WatchersAreOfferedOnTheFanOutThreadNotThePublisher) {
  EventBus bus;
  RecordingWatcher w;
  bus.Subscribe(&w);
  bus.Publish(Kind(v1::Event::PORT_OPENED));
  bus.Drain();
  ASSERT_EQ(w.events.size(), 1u);
  EXPECT_NE(w.thread_id, std::this_thread::get_id());
}

TEST(EventBusTest, WatcherSeesOnlyEventsPublishedAfterItSubscribed) {
  EventBus bus;
  RecordingWatcher early, late;
  bus.Subscribe(&early);
  bus.Publish(Kind(v1::Event::PORT_OPENED));
  bus.Subscribe(&late);  // the first event may still be in the outbox
  bus.Publish(Kind(v1::Event::PORT_CLOSED));
  bus.Drain();
  EXPECT_EQ(early.events.size(), 2u);
  ASSERT_EQ(late.events.size(), 1u);
  EXPECT_EQ(late.events[0]->event.sequence(), 2u);
}

TEST(EventBusTest, WatcherThatRefusesIsDroppedAndCounted) {
  EventBus bus;
  RecordingWatcher slow(1), fast;
  bus.Subscribe(&slow);
  bus.Subscribe(&fast);
  bus.Publish(Kind(v1::Event::PORT_OPENED));
  bus.Publish(Kind(v1::Event::PORT_CLOSED));  // slow refuses: dropped
  bus.Publish(Kind(v1::Event::PORT_OPENED));
  bus.Drain();
  EXPECT_EQ(slow.events.size(), 1u);
  EXPECT_EQ(fast.events.size(), 3u);
  EXPECT_EQ(bus.watchers_dropped(), 1u);
  EXPECT_EQ(bus.watcher_count(), 1u);
}

TEST(EventBusTest, UnsubscribedWatcherIsNotCalled) {
  EventBus bus;
  RecordingWatcher w;
  bus.Subscribe(&w);
  bus.Unsubscribe(&w);
  bus.Publish(Kind(v1::Event::PORT_OPENED));
  bus.Drain();
  EXPECT_TRUE(w.events.empty());
  EXPECT_EQ(bus.watchers_dropped(), 0u);
}

TEST(EventBusTest, CloseOffersWhatIsQueuedThenTellsWatchersAndRefusesNewOnes) {
  EventBus bus;
  RecordingWatcher w, late;
  bus.Subscribe(&w);
  bus.Publish(Kind(v1::Event::PORT_OPENED));
  bus.Close();
  EXPECT_EQ(w.events.size(), 1u);
  EXPECT_TRUE(w.closed);
  EXPECT_FALSE(bus.Subscribe(&late));
  EXPECT_EQ(bus.watcher_count(), 0u);
}

TEST(EventBusTest, ConcurrentPublishersKeepSequencesUniqueAndOrdered) {
  EventBus bus;
  RecordingWatcher w(100000);
  bus.Subscribe(&w);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) bus.Publish(Kind(v1::Event::PORT_OPENED));
    });
  }
  for (auto& t : threads) t.join();
  bus.Drain();
  ASSERT_EQ(w.events.size(), 2000u);
  for (size_t i = 0; i < w.events.size(); ++i) {
    EXPECT_EQ(w.events[i]->event.sequence(), i + 1);
  }
}

TEST(EventBusTest, UnsubscribeWhilePublishingNeverCallsTheWatcherAfter) {
  EventBus bus;
  // A watcher that records calls made after it was unsubscribed.
  struct Checked : EventWatcher {
    std::atomic<bool> gone{false};
    std::atomic<int> late_calls{0};
    bool Offer(const EventRef&) override {
      if (gone) ++late_calls;
      return true;
    }
    void OnBusClosed() override {}
  };
  std::atomic<bool> stop{false};
  std::thread publisher([&] {
    while (!stop) bus.Publish(Kind(v1::Event::PORT_OPENED));
  });
  for (int i = 0; i < 200; ++i) {
    Checked w;
    bus.Subscribe(&w);
    bus.Unsubscribe(&w);
    w.gone = true;
    bus.Publish(Kind(v1::Event::PORT_CLOSED));
    bus.Drain();
    EXPECT_EQ(w.late_calls.load(), 0);
  }
  stop = true;
  publisher.join();
}

}  // namespace
}  // namespace shmport::server
