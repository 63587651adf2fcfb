// shmport.Message: a received message, readable in place through the
// buffer protocol.
#ifndef SHMPORT_PYTHON_MESSAGE_OBJECT_H_
#define SHMPORT_PYTHON_MESSAGE_OBJECT_H_

#include <pybind11/pybind11.h>

#include <cstddef>
#include <optional>

#include "shmport/message.h"

namespace shmport::python {

// Owns one shmport::Message. Its memory (the sender's shared memory, read
// only) is exported through the buffer protocol when the message has at
// most one fragment; every fragment is also its own exporter (Fragment).
//
// Lifetime: the chunks go back to the sender when release() is called (or
// `with` ends) and no view is left, else when the last view is released;
// and at the latest when the object is collected. A view therefore never
// outlives the mapping it reads. After release(), reading fails with
// ValueError, like a released memoryview.
class MessageObject {
 public:
  explicit MessageObject(Message message) : message_(std::move(message)) {}
  MessageObject(MessageObject&&) = default;

  // The message, or ValueError once release() was called.
  const Message& Get() const;
  bool released() const { return release_requested_; }
  // Gives the chunks back now, or when the last export goes. True when
  // that happened now.
  bool Release();

  // Buffer protocol (buffer_slots.h): the whole payload, read-only;
  // BufferError for a message of several fragments.
  int GetBuffer(PyObject* self, Py_buffer* view, int flags);
  void ReleaseBuffer();
  // Export accounting for one fragment's view (see Fragment).
  int ExportFragment(PyObject* exporter, size_t index, Py_buffer* view,
                     int flags);

 private:
  std::optional<Message> message_;
  int exports_ = 0;
  bool release_requested_ = false;
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
