#include "python/port_object.h"

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_format.h"
#include "absl/types/span.h"
#include "python/blocking.h"
#include "python/buffer_object.h"
#include "python/message_object.h"
#include "python/status_errors.h"
#include "shmport/port.h"

namespace shmport::python {

namespace py = pybind11;

namespace {

// One Buffer or a sequence of them (one message of several fragments).
// Nothing is taken unless every buffer can be sent.
std::vector<Buffer> TakeBuffers(py::handle buffers) {
  std::vector<BufferObject*> objects;
  if (py::isinstance<BufferObject>(buffers)) {
    objects.push_back(buffers.cast<BufferObject*>());
  } else {
    for (py::handle item : buffers) {
      objects.push_back(item.cast<BufferObject*>());
    }
  }
  for (const BufferObject* o : objects) o->CheckSendable();
  std::vector<Buffer> taken;
  taken.reserve(objects.size());
  for (BufferObject* o : objects) taken.push_back(o->Take());
  return taken;
}

void Send(Port& port, py::handle buffers, uint32_t stream, bool last) {
  std::vector<Buffer> taken = TakeBuffers(buffers);
  ThrowIfError(WithoutGil([&] {
    return taken.size() == 1 ? port.Send(stream, std::move(taken[0]), last)
                             : port.Send(stream, std::move(taken), last);
  }));
}

// Copies any C-contiguous bytes-like object (bytes, bytearray, memoryview,
// numpy array, ...) into shared memory and sends it.
void SendBytes(Port& port, py::handle data, uint32_t stream, bool last) {
  Py_buffer view;
  if (PyObject_GetBuffer(data.ptr(), &view, PyBUF_SIMPLE) != 0) {
    throw py::error_already_set();
  }
  // Held across the send: the exporter cannot resize or free it meanwhile.
  absl::Cleanup release = [&view] { PyBuffer_Release(&view); };
  const absl::Span<const uint8_t> bytes(static_cast<const uint8_t*>(view.buf),
                                        static_cast<size_t>(view.len));
  ThrowIfError(WithoutGil([&] { return port.SendCopy(stream, bytes, last); }));
}

BufferObject Allocate(Port& port, size_t size, std::optional<double> timeout) {
  if (!timeout.has_value()) {
    return BufferObject(
        ValueOrThrow(WithoutGil([&] { return port.Allocate(size); })));
  }
  const absl::Duration bound = ToDuration(timeout, "timeout");
  return BufferObject(
      ValueOrThrow(WithoutGil([&] { return port.Allocate(size, bound); })));
}

MessageObject Receive(Port& port, std::optional<double> timeout) {
  return MessageObject(ValueOrThrow(WaitInSlices<Message>(
      ToDuration(timeout, "timeout"),
      [&](absl::Duration slice) { return port.Receive(slice); })));
}

std::optional<MessageObject> TryReceive(Port& port) {
  std::optional<Message> m = ValueOrThrow(port.TryReceive());
  if (!m.has_value()) return std::nullopt;
  return MessageObject(*std::move(m));
}

py::dict Stats(const Port& port) {
  const PortStats s = port.stats();
  py::dict d;
  d["messages_sent"] = s.messages_sent;
  d["bytes_sent"] = s.bytes_sent;
  d["messages_received"] = s.messages_received;
  d["bytes_received"] = s.bytes_received;
  d["segments_out"] = s.segments_out;
  d["segments_in"] = s.segments_in;
  d["chunks_in_use"] = s.chunks_in_use;
  d["tracking_in_flight"] = s.tracking_in_flight;
  d["oosm_waits"] = s.oosm_waits;
  d["protocol_errors"] = s.protocol_errors;
  d["cancels_won"] = s.cancels_won;
  d["cancels_lost"] = s.cancels_lost;
  d["cancelled_dropped"] = s.cancelled_dropped;
  d["sent_via_ring"] = s.sent_via_ring;
  d["ring_fallbacks"] = s.ring_fallbacks;
  d["receive_spins"] = s.receive_spins;
  d["receive_spin_hits"] = s.receive_spin_hits;
  d["closed"] = s.closed;
  return d;
}

std::optional<std::string> ClosedReason(const Port& port) {
  const absl::Status reason = port.closed_reason();
  if (reason.ok()) return std::nullopt;
  return std::string(reason.message());
}

void DefineTracking(py::module_& module) {
  py::class_<Tracking>(module, "Tracking",
                       "The sender's handle on a tracked message "
                       "(port.send_tracked).")
      .def_property_readonly("stream", &Tracking::stream)
      .def(
          "cancel", [](Tracking& t) { return ValueOrThrow(t.Cancel()); },
          "True: withdrawn before the peer took it (the peer drops it "
          "unseen). False: the peer had already claimed it, or cancel() was "
          "already called. Unavailable: the port closed first.");
}

void DefineDataMethods(py::class_<Port, std::unique_ptr<Port>>& port) {
  port.def("allocate", &Allocate, py::arg("size"),
           py::arg("timeout") = py::none(),
           "A Buffer of exactly `size` bytes; waits up to `timeout` seconds "
           "(None: the port's allocate timeout, 10 s) for the receiver to "
           "free memory.")
      .def(
          "try_allocate",
          [](Port& p, size_t size) {
            return BufferObject(ValueOrThrow(p.TryAllocate(size)));
          },
          py::arg("size"),
          "Like allocate, but ResourceExhausted at once when memory is "
          "short (fileno() turns readable when the receiver frees some).")
      .def("send", &Send, py::arg("buffer"), py::arg("stream") = 0,
           py::arg("last") = false,
           "Sends a Buffer (or a list of them: one message of several "
           "fragments) zero-copy. The buffers are consumed.")
      .def("send_bytes", &SendBytes, py::arg("data"), py::arg("stream") = 0,
           py::arg("last") = false,
           "Sends a copy of any contiguous bytes-like object.")
      .def(
          "send_tracked",
          [](Port& p, BufferObject& buffer, uint32_t stream, bool last) {
            Buffer taken = buffer.Take();
            return ValueOrThrow(WithoutGil(
                [&] { return p.SendTracked(stream, std::move(taken), last); }));
          },
          py::arg("buffer"), py::arg("stream") = 0, py::arg("last") = false,
          "Sends a Buffer the sender may withdraw: returns a Tracking.")
      .def("receive", &Receive, py::arg("timeout") = py::none(),
           "The next Message, waiting up to `timeout` seconds (None: "
           "forever). DeadlineExceeded, Unavailable (closed).")
      .def("try_receive", &TryReceive,
           "The next Message if one is ready, else None. Never blocks.");
}

}  // namespace

void DefinePort(py::module_& module) {
  DefineTracking(module);
  py::class_<Port, std::unique_ptr<Port>> port(
      module, "Port",
      "One end of a shared-memory connection (Session.open_port / "
      "accept_port). Thread-safe; a context manager that closes the port.");
  DefineDataMethods(port);
  port.def("fileno", &Port::fd,
           "The port's socket, for selectors/asyncio: readable when a "
           "message, an ack or the close is waiting. Do not read from it.")
      .def("close", &Port::Close,
           "Closes the port now; blocked calls wake with Unavailable. "
           "Messages and Buffers of it stay valid.")
      .def_property_readonly("closed", &Port::closed)
      .def_property_readonly("closed_reason", &ClosedReason,
                             "Why the port closed, or None while open.")
      .def_property_readonly("port_id", &Port::port_id)
      .def("_stats", &Stats)
      .def("_peer",
           [](const Port& p) {
             const PeerIdentity& peer = p.peer();
             return py::make_tuple(peer.name, peer.pid, peer.uid,
                                   peer.process_id);
           })
      .def("_peer_geometry",
           [](const Port& p) {
             return py::make_tuple(p.peer_geometry().chunk_size,
                                   p.peer_geometry().chunk_count);
           })
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](Port& p, py::args) {
        p.Close();
        return false;
      });
}

}  // namespace shmport::python
