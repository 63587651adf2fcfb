#include "python/subscriber_object.h"

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "python/blocking.h"
#include "python/sample_object.h"
#include "python/session_object.h"
#include "python/status_errors.h"

namespace shmport::python {

namespace py = pybind11;

namespace {

// Receive's own "nothing came in this slice", as opposed to a cut-off's
// DEADLINE_EXCEEDED (a kBlockPublisher subscriber too slow for max_block),
// which is reported once and must not be waited past.
bool NoSampleYet(const std::string& topic, const absl::Status& status) {
  return absl::IsDeadlineExceeded(status) &&
         absl::StartsWith(status.message(),
                          absl::StrCat("topic ", topic, ": no sample within"));
}

// In slices (Ctrl-C works, close() on another thread is noticed); the
// DEADLINE_EXCEEDED then names the caller's timeout, not the slice.
SampleObject Receive(const SubscriberObject& object,
                     std::optional<double> timeout) {
  const absl::Duration bound = ToDuration(timeout, "timeout");
  std::shared_ptr<Subscriber> subscriber = object.Get();
  const std::string& topic = subscriber->topic();
  absl::StatusOr<Sample> sample = WaitInSlices<Sample>(
      bound,
      [&](absl::Duration slice) -> absl::StatusOr<Sample> {
        if (object.closed()) {
          return absl::FailedPreconditionError(
              "the shmport.Subscriber was closed during receive");
        }
        return subscriber->Receive(slice);
      },
      [&](const absl::Status& s) { return NoSampleYet(topic, s); });
  if (NoSampleYet(topic, sample.status())) {
    throw StatusError{absl::DeadlineExceededError(absl::StrCat(
        "topic ", topic, ": no sample within ", absl::FormatDuration(bound)))};
  }
  return SampleObject(ValueOrThrow(std::move(sample)));
}

// None when nothing is ready (Subscriber::TryReceive's UNAVAILABLE).
std::optional<SampleObject> TryReceive(const SubscriberObject& object) {
  absl::StatusOr<Sample> sample = object.Get()->TryReceive();
  if (absl::IsUnavailable(sample.status())) return std::nullopt;
  return SampleObject(ValueOrThrow(std::move(sample)));
}

py::dict Stats(const SubscriberObject& object) {
  const SubscriberStats s = object.Get()->stats();
  py::dict d;
  d["samples_received"] = s.samples_received;
  d["samples_missed"] = s.samples_missed;
  d["bytes_received"] = s.bytes_received;
  d["segments_mapped"] = s.segments_mapped;
  d["subscriptions_opened"] = s.subscriptions_opened;
  return d;
}

}  // namespace

void DefineSubscriber(py::module_& module) {
  py::class_<SubscriberObject>(
      module, "Subscriber",
      "The subscribing end of a topic (Session.subscribe). Receive from "
      "one thread at a time; a context manager that closes it.")
      .def("receive", &Receive, py::arg("timeout") = py::none(),
           "The next Sample, waiting up to `timeout` seconds (None: "
           "forever). DeadlineExceeded when none came; once, the "
           "publisher's reason for cutting this subscriber off.")
      .def("try_receive", &TryReceive,
           "The next Sample if one is ready, else None. Never blocks.")
      .def(
          "fileno", [](const SubscriberObject& o) { return o.Get()->fd(); },
          "An epoll fd for selectors/asyncio: readable when receive may "
          "have something. Never read from it.")
      .def("_stats", &Stats)
      .def_property_readonly(
          "topic", [](const SubscriberObject& o) { return o.Get()->topic(); })
      .def_property_readonly("closed", &SubscriberObject::closed)
      .def("close", &SubscriberObject::Close,
           "Ends the subscription; Samples of it stay valid. Idempotent.")
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](SubscriberObject& o, py::args) {
        o.Close();
        return false;
      });
}

}  // namespace shmport::python
