// What a Python object holds of a C++ object it may close() before it is
// collected: a shmport.Session, Publisher or Subscriber.
#ifndef SHMPORT_PYTHON_CLOSABLE_H_
#define SHMPORT_PYTHON_CLOSABLE_H_

#include <pybind11/pybind11.h>

#include <atomic>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "python/status_errors.h"

namespace shmport::python {

// Holds a T until Close(). A call in progress on another thread keeps its
// own reference (Get()), so Close() never destroys a T under a blocked
// call; that call finishes first. After Close(), Get() raises
// FailedPrecondition naming `type` ("shmport.Session").
template <typename T>
class Closable {
 public:
  Closable(std::shared_ptr<T> value, const char* type)
      : value_(std::move(value)), type_(type) {}
  Closable(Closable&& other) noexcept
      : value_(std::move(other.value_)),
        type_(other.type_),
        closed_(other.closed()) {}

  std::shared_ptr<T> Get() const {
    if (value_ == nullptr) {
      throw StatusError{absl::FailedPreconditionError(std::string("the ") +
                                                      type_ + " is closed")};
    }
    return value_;
  }
  // Drops this reference with the GIL released: the last one destroys the
  // T, which joins its threads. Idempotent.
  void Close() {
    closed_.store(true, std::memory_order_release);
    std::shared_ptr<T> value = std::move(value_);
    pybind11::gil_scoped_release nogil;
    value.reset();
  }
  // Also read without the GIL (a blocked receive polls it).
  bool closed() const { return closed_.load(std::memory_order_acquire); }

 private:
  std::shared_ptr<T> value_;
  const char* type_;
  std::atomic<bool> closed_{false};
};

}  // namespace shmport::python

#endif  // SHMPORT_PYTHON_CLOSABLE_H_
