#include "server/event_bus.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace shmport::server {
namespace {

// Records what it is offered; refuses once `capacity` events are held.
class RecordingWatcher : public EventWatcher {
 public:
  explicit RecordingWatcher(size_t capacity = 1000) : capacity_(capacity) {}
  bool Offer(const v1::Event& event) override {
    if (events.size() >= capacity_) return false;
    events.push_back(event);
    return true;
  }
  void OnBusClosed() override { closed = true; }
  std::vector<v1::Event> events;
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
  for (RecordingWatcher* w : {&w1, &w2}) {
    ASSERT_EQ(w->events.size(), 2u);
    EXPECT_EQ(w->events[0].sequence(), 1u);
    EXPECT_EQ(w->events[1].sequence(), 2u);
    EXPECT_EQ(w->events[1].kind(), v1::Event::PORT_OPENED);
    EXPECT_GT(w->events[1].time_unix_ms(), 0);
  }
}

TEST(EventBusTest, WatcherThatRefusesIsDroppedAndCounted) {
  EventBus bus;
  RecordingWatcher slow(1), fast;
  bus.Subscribe(&slow);
  bus.Subscribe(&fast);
  bus.Publish(Kind(v1::Event::PORT_OPENED));
  bus.Publish(Kind(v1::Event::PORT_CLOSED));  // slow refuses: dropped
  bus.Publish(Kind(v1::Event::PORT_OPENED));
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
  EXPECT_TRUE(w.events.empty());
  EXPECT_EQ(bus.watchers_dropped(), 0u);
}

TEST(EventBusTest, CloseTellsWatchersAndRefusesNewOnes) {
  EventBus bus;
  RecordingWatcher w, late;
  bus.Subscribe(&w);
  bus.Close();
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
  ASSERT_EQ(w.events.size(), 2000u);
  for (size_t i = 0; i < w.events.size(); ++i) {
    EXPECT_EQ(w.events[i].sequence(), i + 1);
  }
}

}  // namespace
}  // namespace shmport::server
