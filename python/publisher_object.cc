#include "python/publisher_object.h"

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "python/blocking.h"
#include "python/sample_buffer_object.h"
#include "python/session_object.h"
#include "python/status_errors.h"

namespace shmport::python {

namespace py = pybind11;

namespace {

// Publisher::Allocate's default timeout, for timeout=None.
constexpr absl::Duration kDefaultAllocateTimeout = absl::Seconds(10);

SampleBufferObject Allocate(const PublisherObject& object, size_t size,
                            std::optional<double> timeout) {
  const absl::Duration bound = timeout.has_value()
                                   ? ToDuration(timeout, "timeout")
                                   : kDefaultAllocateTimeout;
  std::shared_ptr<Publisher> publisher = object.Get();
  return SampleBufferObject(ValueOrThrow(
      WithoutGil([&] { return publisher->Allocate(size, bound); })));
}

uint64_t Publish(const PublisherObject& object, SampleBufferObject& buffer) {
  std::shared_ptr<Publisher> publisher = object.Get();
  SampleBuffer taken = buffer.Take();
  return ValueOrThrow(
      WithoutGil([&] { return publisher->Publish(std::move(taken)); }));
}

py::dict Stats(const PublisherObject& object) {
  const PublisherStats s = object.Get()->stats();
  py::dict d;
  d["samples_published"] = s.samples_published;
  d["chunks_in_use"] = s.chunks_in_use;
  d["segments"] = s.segments;
  d["subscriptions_cut_off"] = s.subscriptions_cut_off;
  py::list subscriptions;
  for (const TopicSubscriptionStats& t : s.subscriptions) {
    py::dict one;
    one["subscription_id"] = t.subscription_id;
    one["samples_delivered"] = t.samples_delivered;
    one["samples_released"] = t.samples_released;
    one["samples_dropped"] = t.samples_dropped;
    one["lag"] = t.lag;
    one["held_chunks"] = t.held_chunks;
    one["held_bytes"] = t.held_bytes;
    subscriptions.append(one);
  }
  d["subscriptions"] = subscriptions;
  return d;
}

void DefineDataMethods(py::class_<PublisherObject>& publisher) {
  publisher
      .def("allocate", &Allocate, py::arg("size"),
           py::arg("timeout") = py::none(),
           "A SampleBuffer of exactly `size` bytes; waits up to `timeout` "
           "seconds (None: 10 s) for free chunks and for block_publisher "
           "subscribers to take their queues (DeadlineExceeded names what "
           "it waited for).")
      .def(
          "try_allocate",
          [](const PublisherObject& o, size_t size) {
            return SampleBufferObject(ValueOrThrow(o.Get()->TryAllocate(size)));
          },
          py::arg("size"),
          "Like allocate, but DeadlineExceeded at once when memory or a "
          "subscriber's queue is full (fileno() turns readable when chunks "
          "come back).")
      .def("publish", &Publish, py::arg("buffer"),
           "Hands a SampleBuffer to every subscriber, zero-copy; returns "
           "its sequence number. The buffer is consumed.");
}

}  // namespace

void DefinePublisher(py::module_& module) {
  py::class_<PublisherObject> publisher(
      module, "Publisher",
      "The publishing end of a topic (Session.publish). Thread-safe; a "
      "context manager that closes it.");
  DefineDataMethods(publisher);
  publisher
      .def(
          "fileno", [](const PublisherObject& o) { return o.Get()->fd(); },
          "An eventfd, readable when chunks returned to the pool (a failed "
          "try_allocate may then succeed); read 8 bytes to clear it.")
      .def("_stats", &Stats)
      .def_property_readonly(
          "topic", [](const PublisherObject& o) { return o.Get()->topic(); })
      .def_property_readonly("closed", &PublisherObject::closed)
      .def("close", &PublisherObject::Close,
           "Ends every subscription (subscribers keep the samples they "
           "hold); SampleBuffers of it stay valid. Idempotent.")
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](PublisherObject& o, py::args) {
        o.Close();
        return false;
      });
}

}  // namespace shmport::python
