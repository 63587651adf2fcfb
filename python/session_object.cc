#include "python/session_object.h"

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <map>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "python/blocking.h"
#include "python/session_topics.h"
#include "python/status_errors.h"

namespace shmport::python {

namespace py = pybind11;

namespace {

SessionObject Connect(
    const std::string& name,
    const std::optional<std::map<std::string, std::string>>& labels,
    const std::string& address, double rpc_timeout) {
  SessionOptions options;
  options.name = name;
  if (labels.has_value()) options.labels = *labels;
  options.address = address;
  options.rpc_timeout = ToDuration(rpc_timeout, "rpc_timeout");
  return SessionObject(
      ValueOrThrow(WithoutGil([&] { return Session::Connect(options); })));
}

// name_or_id: a process name, or its id (an int or a string of digits).
std::unique_ptr<Port> OpenPort(const SessionObject& object,
                               py::handle name_or_id, double timeout,
                               uint32_t chunk_size, uint32_t chunk_count,
                               uint32_t max_segments,
                               uint32_t inline_threshold) {
  const std::string peer = py::str(name_or_id);
  OpenPortOptions options{.chunk_size = chunk_size,
                          .chunk_count = chunk_count,
                          .max_segments = max_segments,
                          .inline_threshold = inline_threshold,
                          .wait_for_peer = ToDuration(timeout, "timeout")};
  std::shared_ptr<Session> session = object.Get();
  return ValueOrThrow(
      WithoutGil([&] { return session->OpenPort(peer, options); }));
}

// A finite timeout is one wait, so that DeadlineExceeded carries the
// library's message with the caller's duration; None waits in slices
// (Ctrl-C works).
std::unique_ptr<Port> AcceptPort(const SessionObject& object,
                                 std::optional<double> timeout) {
  std::shared_ptr<Session> session = object.Get();
  const absl::Duration bound = ToDuration(timeout, "timeout");
  if (bound != absl::InfiniteDuration()) {
    return ValueOrThrow(WithoutGil([&] { return session->AcceptPort(bound); }));
  }
  return ValueOrThrow(WaitInSlices<std::unique_ptr<Port>>(
      bound, [&](absl::Duration slice) { return session->AcceptPort(slice); }));
}

void DefineControlMethods(py::class_<SessionObject>& session) {
  session
      .def("open_port", &OpenPort, py::arg("name_or_id"),
           py::arg("timeout") = 0.0, py::arg("chunk_size") = 0,
           py::arg("chunk_count") = 0, py::arg("max_segments") = 0,
           py::arg("inline_threshold") = 0,
           "Opens a port to the process named `name_or_id` (or with that "
           "id) and returns it ready. `timeout`: seconds to keep trying "
           "while the peer is not registered or attached yet (0: one "
           "attempt). The other arguments ask the daemon for a geometry "
           "(0: its default).")
      .def("accept_port", &AcceptPort, py::arg("timeout") = py::none(),
           "The next port another process opened to this one; waits up to "
           "`timeout` seconds (None: forever).")
      .def(
          "reconnect",
          [](const SessionObject& o) {
            std::shared_ptr<Session> s = o.Get();
            ThrowIfError(WithoutGil([&] { return s->Reconnect(); }));
          },
          "Registers again with a restarted daemon; open ports keep "
          "working.")
      .def(
          "unregister",
          [](const SessionObject& o) {
            std::shared_ptr<Session> s = o.Get();
            ThrowIfError(WithoutGil([&] { return s->Unregister(); }));
          },
          "Ends the registration now; later calls raise "
          "FailedPrecondition.");
}

}  // namespace

void DefineSession(py::module_& module) {
  py::class_<SessionObject> session(
      module, "Session",
      "A registration with shmportd (Session.connect). A context manager "
      "that closes the session.");
  session.def_static("connect", &Connect, py::kw_only(), py::arg("name"),
                     py::arg("labels") = py::none(), py::arg("address") = "",
                     py::arg("rpc_timeout") = 5.0,
                     "Registers `name` with the daemon at `address` (empty: "
                     "$SHMPORT_ADDRESS, else the per-user default socket).");
  DefineControlMethods(session);
  DefineTopicMethods(module, session);
  session
      .def_property_readonly(
          "process_id",
          [](const SessionObject& o) { return o.Get()->process_id(); })
      .def_property_readonly(
          "name", [](const SessionObject& o) { return o.Get()->name(); })
      .def_property_readonly(
          "address", [](const SessionObject& o) { return o.Get()->address(); })
      .def_property_readonly("closed", &SessionObject::closed)
      .def("close", &SessionObject::Close,
           "Ends the registration and stops the session's thread; ports "
           "stay open. Idempotent. Open publishers and subscribers keep the "
           "registration until they are closed too.")
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](SessionObject& o, py::args) {
        o.Close();
        return false;
      });
}

}  // namespace shmport::python
