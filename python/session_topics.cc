#include "python/session_topics.h"

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "python/blocking.h"
#include "python/publisher_object.h"
#include "python/status_errors.h"
#include "python/subscriber_object.h"

namespace shmport::python {

namespace py = pybind11;

namespace {

std::unique_ptr<PublisherObject> Publish(
    const SessionObject& object, const std::string& topic, uint32_t chunk_size,
    uint32_t chunk_count, uint32_t max_segments, uint32_t inline_threshold,
    uint32_t history, uint64_t max_held_bytes,
    std::optional<double> max_block) {
  PublisherOptions options;
  options.geometry = {.chunk_size = chunk_size, .chunk_count = chunk_count};
  options.max_segments = max_segments;
  options.inline_threshold = inline_threshold;
  options.history = history;
  options.max_held_bytes = max_held_bytes;
  options.max_block = ToDuration(max_block, "max_block");
  std::shared_ptr<Session> session = object.Get();
  std::unique_ptr<Publisher> publisher = ValueOrThrow(
      WithoutGil([&] { return session->Publish(topic, options); }));
  return std::make_unique<PublisherObject>(session, std::move(publisher));
}

std::unique_ptr<SubscriberObject> Subscribe(
    const SessionObject& object, const std::string& topic,
    SlowSubscriber slow_subscriber, uint32_t queue_depth, uint32_t history,
    uint32_t max_segments, uint64_t max_mapped_bytes) {
  if (queue_depth < 1) {
    throw StatusError{absl::InvalidArgumentError(
        "queue_depth=0: a subscriber takes at least 1 sample at a time")};
  }
  SubscriberOptions options;
  options.slow_subscriber = slow_subscriber;
  options.queue_depth = queue_depth;
  options.history = history;
  options.max_segments = max_segments;
  options.max_mapped_bytes = max_mapped_bytes;
  std::shared_ptr<Session> session = object.Get();
  std::unique_ptr<Subscriber> subscriber = ValueOrThrow(
      WithoutGil([&] { return session->Subscribe(topic, options); }));
  return std::make_unique<SubscriberObject>(session, std::move(subscriber));
}

}  // namespace

void DefineTopicMethods(py::module_& module,
                        py::class_<SessionObject>& session) {
  py::enum_<SlowSubscriber>(module, "SlowSubscriber",
                            "What a subscription does when its subscriber "
                            "falls behind.")
      .value("BLOCK_PUBLISHER", SlowSubscriber::kBlockPublisher)
      .value("DROP_OLDEST", SlowSubscriber::kDropOldest);
  const PublisherOptions p;
  const SubscriberOptions s;
  session
      .def("publish", &Publish, py::arg("topic"), py::kw_only(),
           py::arg("chunk_size") = p.geometry.chunk_size,
           py::arg("chunk_count") = p.geometry.chunk_count,
           py::arg("max_segments") = p.max_segments,
           py::arg("inline_threshold") = p.inline_threshold,
           py::arg("history") = p.history,
           py::arg("max_held_bytes") = p.max_held_bytes,
           py::arg("max_block") = py::none(),
           "Makes this process the publisher of `topic` and returns a "
           "Publisher. See docs/python.md for the options.")
      .def("subscribe", &Subscribe, py::arg("topic"), py::kw_only(),
           py::arg("slow_subscriber") = s.slow_subscriber,
           py::arg("queue_depth") = s.queue_depth,
           py::arg("history") = s.history,
           py::arg("max_segments") = s.max_segments,
           py::arg("max_mapped_bytes") = s.max_mapped_bytes,
           "Subscribes to `topic` (which need not have a publisher yet) and "
           "returns a Subscriber.");
}

}  // namespace shmport::python
