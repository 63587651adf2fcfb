// shmport.Message: a received message, readable in place through the
// buffer protocol.
#ifndef SHMPORT_PYTHON_MESSAGE_OBJECT_H_
#define SHMPORT_PYTHON_MESSAGE_OBJECT_H_

#include <pybind11/pybind11.h>

#include <cstddef>
#include <utility>

#include "python/releasable.h"
#include "shmport/message.h"

namespace shmport::python {

// Owns one shmport::Message. Its memory (the sender's shared memory, read
// only) is exported through the buffer protocol when the message has at
// most one fragment; every fragment is also its own exporter (Fragment).
// Lifetime as Releasable's: release() (or the end of `with`) gives the
// chunks back now or when the last view goes.
class MessageObject {
 public:
  explicit MessageObject(Message message)
      : held_(std::move(message), "shmport.Message") {}
  MessageObject(MessageObject&&) = default;

  // The message, or ValueError once release() was called.
  const Message& Get() const { return held_.Get(); }
  bool released() const { return held_.released(); }
  // Gives the chunks back now, or when the last export goes. True when
  // that happened now.
  bool Release() { return held_.Release(); }

  // Buffer protocol (buffer_slots.h): the whole payload, read-only;
  // BufferError for a message of several fragments.
  int GetBuffer(PyObject* self, Py_buffer* view, int flags);
  void ReleaseBuffer() { held_.ReleaseBuffer(); }
  // Export accounting for one fragment's view (see Fragment).
  int ExportFragment(PyObject* exporter, size_t index, Py_buffer* view,
                     int flags);

 private:
  Releasable<Message> held_;
};

// One fragment of a Message, exported read-only. Keeps its Message alive
// and counts as one of its exports while a view of it exists.
class Fragment {
 public:
  Fragment(pybind11::object message, size_t index)
      : message_(std::move(message)), index_(index) {}

  size_t size() const;
  int GetBuffer(PyObject* self, Py_buffer* view, int flags);
  void ReleaseBuffer();
  pybind11::bytes ToBytes() const;

 private:
  MessageObject& message() const { return message_.cast<MessageObject&>(); }
  pybind11::object message_;  // a MessageObject
  size_t index_;
};

void DefineMessage(pybind11::module_& module);

}  // namespace shmport::python

#endif  // SHMPORT_PYTHON_MESSAGE_OBJECT_H_
