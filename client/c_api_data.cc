// The C ABI's data path (include/shmport/shmport.h): buffers, sends,
// trackings, receives and messages. Each call is a thin shell around the
// C++ one: a NULL check, the call, and a heap handle for what it returns.
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "client/c_api_errors.h"
#include "client/c_api_handles.h"
#include "client/c_api_options.h"
#include "shmport/shmport.h"

using shmport::c_api::Fail;
using shmport::c_api::InvalidArgument;

namespace {

shmport_status Done(const absl::Status& status, shmport_port* port) {
  return status.ok() ? SHMPORT_OK : Fail(status, port->error);
}

shmport_status ReturnBuffer(absl::StatusOr<shmport::Buffer> buffer,
                            shmport_port* port, shmport_buffer** out) {
  if (!buffer.ok()) return Fail(buffer.status(), port->error);
  *out = new shmport_buffer{.buffer = std::move(*buffer)};
  return SHMPORT_OK;
}

// Takes the C++ Buffer out of its handle and frees the handle.
shmport::Buffer Consume(shmport_buffer* buffer) {
  shmport::Buffer b = std::move(buffer->buffer);
  delete buffer;
  return b;
}

void View(absl::Span<const uint8_t> span, const void** data, size_t* size) {
  if (data != nullptr) *data = span.empty() ? nullptr : span.data();
  if (size != nullptr) *size = span.size();
}

}  // namespace

extern "C" {

// --- Buffers ---

shmport_status shmport_port_allocate(shmport_port* port, size_t size,
                                     int64_t timeout_ms, shmport_buffer** out) {
  SHMPORT_C_REQUIRE(out);
  *out = nullptr;
  SHMPORT_C_REQUIRE(port);
  if (timeout_ms == SHMPORT_DEFAULT_TIMEOUT) {
    return ReturnBuffer(port->port->Allocate(size), port, out);
  }
  absl::StatusOr<absl::Duration> timeout = shmport::c_api::ToDuration(
      timeout_ms, absl::Milliseconds(1), "shmport_port_allocate: timeout_ms");
  if (!timeout.ok()) return Fail(timeout.status(), port->error);
  return ReturnBuffer(port->port->Allocate(size, *timeout), port, out);
}

shmport_status shmport_port_try_allocate(shmport_port* port, size_t size,
                                         shmport_buffer** out) {
  SHMPORT_C_REQUIRE(out);
  *out = nullptr;
  SHMPORT_C_REQUIRE(port);
  return ReturnBuffer(port->port->TryAllocate(size), port, out);
}

shmport_status shmport_buffer_data(const shmport_buffer* buffer, void** data,
                                   size_t* size) {
  SHMPORT_C_REQUIRE(buffer);
  if (data != nullptr) *data = buffer->buffer.data();
  if (size != nullptr) *size = buffer->buffer.size();
  return SHMPORT_OK;
}

shmport_status shmport_buffer_capacity(const shmport_buffer* buffer,
                                       size_t* capacity) {
  SHMPORT_C_REQUIRE(buffer);
  SHMPORT_C_REQUIRE(capacity);
  *capacity = buffer->buffer.capacity();
  return SHMPORT_OK;
}

shmport_status shmport_buffer_resize(shmport_buffer* buffer, size_t size) {
  SHMPORT_C_REQUIRE(buffer);
  if (!buffer->buffer.Resize(size)) {
    return Fail(absl::OutOfRangeError(absl::StrCat(
        "shmport_buffer_resize: size ", size,
        " is beyond the buffer's capacity ", buffer->buffer.capacity())));
  }
  return SHMPORT_OK;
}

shmport_status shmport_buffer_free(shmport_buffer* buffer) {
  delete buffer;
  return SHMPORT_OK;
}

// --- Sending ---

shmport_status shmport_port_send(shmport_port* port, uint32_t stream,
                                 shmport_buffer* buffer, int last) {
  if (port == nullptr) {
    delete buffer;  // consumed, as promised
    return InvalidArgument(__func__, "port is NULL");
  }
  SHMPORT_C_REQUIRE(buffer);
  return Done(port->port->Send(stream, Consume(buffer), last != 0), port);
}

shmport_status shmport_port_send_many(shmport_port* port, uint32_t stream,
                                      shmport_buffer** buffers, size_t count,
                                      int last) {
  std::vector<shmport::Buffer> taken;
  bool saw_null = false;
  for (size_t i = 0; buffers != nullptr && i < count; ++i) {
    if (buffers[i] == nullptr) {
      saw_null = true;
    } else {
      taken.push_back(Consume(buffers[i]));
    }
  }
  SHMPORT_C_REQUIRE(port);
  if (buffers == nullptr && count > 0) {
    return InvalidArgument(
        __func__, absl::StrCat("buffers is NULL but count is ", count));
  }
  if (saw_null) return InvalidArgument(__func__, "a buffer is NULL");
  return Done(port->port->Send(stream, std::move(taken), last != 0), port);
}

shmport_status shmport_port_send_copy(shmport_port* port, uint32_t stream,
                                      const void* data, size_t size, int last) {
  SHMPORT_C_REQUIRE(port);
  if (data == nullptr && size > 0) {
    return InvalidArgument(__func__,
                           absl::StrCat("data is NULL but size is ", size));
  }
  const absl::Span<const uint8_t> bytes(static_cast<const uint8_t*>(data),
                                        size);
  return Done(port->port->SendCopy(stream, bytes, last != 0), port);
}

shmport_status shmport_port_send_tracked(shmport_port* port, uint32_t stream,
                                         shmport_buffer* buffer, int last,
                                         shmport_tracking** out) {
  if (port == nullptr || out == nullptr) {
    delete buffer;
    if (out != nullptr) *out = nullptr;
    return InvalidArgument(__func__,
                           port == nullptr ? "port is NULL" : "out is NULL");
  }
  *out = nullptr;
  SHMPORT_C_REQUIRE(buffer);
  absl::StatusOr<shmport::Tracking> tracking =
      port->port->SendTracked(stream, Consume(buffer), last != 0);
  if (!tracking.ok()) return Fail(tracking.status(), port->error);
  *out = new shmport_tracking{.tracking = std::move(*tracking)};
  return SHMPORT_OK;
}

shmport_status shmport_tracking_cancel(shmport_tracking* tracking,
                                       int* cancelled) {
  SHMPORT_C_REQUIRE(tracking);
  SHMPORT_C_REQUIRE(cancelled);
  absl::StatusOr<bool> won = tracking->tracking.Cancel();
  if (!won.ok()) return Fail(won.status());
  *cancelled = *won ? 1 : 0;
  return SHMPORT_OK;
}

shmport_status shmport_tracking_stream(const shmport_tracking* tracking,
                                       uint32_t* stream) {
  SHMPORT_C_REQUIRE(tracking);
  SHMPORT_C_REQUIRE(stream);
  *stream = tracking->tracking.stream();
  return SHMPORT_OK;
}

shmport_status shmport_tracking_free(shmport_tracking* tracking) {
  delete tracking;
  return SHMPORT_OK;
}

// --- Receiving ---

shmport_status shmport_port_receive(shmport_port* port, int64_t timeout_ms,
                                    shmport_message** out) {
  SHMPORT_C_REQUIRE(out);
  *out = nullptr;
  SHMPORT_C_REQUIRE(port);
  absl::StatusOr<absl::Duration> timeout = shmport::c_api::ToDuration(
      timeout_ms, absl::Milliseconds(1), "shmport_port_receive: timeout_ms");
  if (!timeout.ok()) return Fail(timeout.status(), port->error);
  absl::StatusOr<shmport::Message> message = port->port->Receive(*timeout);
  if (!message.ok()) return Fail(message.status(), port->error);
  *out = new shmport_message{.message = std::move(*message)};
  return SHMPORT_OK;
}

shmport_status shmport_port_try_receive(shmport_port* port,
                                        shmport_message** out) {
  SHMPORT_C_REQUIRE(out);
  *out = nullptr;
  SHMPORT_C_REQUIRE(port);
  absl::StatusOr<std::optional<shmport::Message>> message =
      port->port->TryReceive();
  if (!message.ok()) return Fail(message.status(), port->error);
  if (message->has_value()) {
    *out = new shmport_message{.message = std::move(**message)};
  }
  return SHMPORT_OK;
}

shmport_status shmport_message_data(const shmport_message* message,
                                    const void** data, size_t* size) {
  SHMPORT_C_REQUIRE(message);
  View(message->message.data(), data, size);
  return SHMPORT_OK;
}

shmport_status shmport_message_size(const shmport_message* message,
                                    size_t* size) {
  SHMPORT_C_REQUIRE(message);
  SHMPORT_C_REQUIRE(size);
  *size = message->message.size();
  return SHMPORT_OK;
}

shmport_status shmport_message_fragment_count(const shmport_message* message,
                                              size_t* count) {
  SHMPORT_C_REQUIRE(message);
  SHMPORT_C_REQUIRE(count);
  *count = message->message.fragment_count();
  return SHMPORT_OK;
}

shmport_status shmport_message_fragment(const shmport_message* message,
                                        size_t index, const void** data,
                                        size_t* size) {
  SHMPORT_C_REQUIRE(message);
  const size_t count = message->message.fragment_count();
  if (index >= count) {
    return Fail(absl::OutOfRangeError(
        absl::StrCat("shmport_message_fragment: index ", index,
                     " is not below the fragment count ", count)));
  }
  View(message->message.fragment(index), data, size);
  return SHMPORT_OK;
}

shmport_status shmport_message_stream(const shmport_message* message,
                                      uint32_t* stream, int* last) {
  SHMPORT_C_REQUIRE(message);
  if (stream != nullptr) *stream = message->message.stream();
  if (last != nullptr) *last = message->message.last() ? 1 : 0;
  return SHMPORT_OK;
}

shmport_status shmport_message_copy_to(const shmport_message* message,
                                       void* out, size_t size) {
  SHMPORT_C_REQUIRE(message);
  const size_t need = message->message.size();
  if (size < need) {
    return Fail(absl::OutOfRangeError(
        absl::StrCat("shmport_message_copy_to: size ", size,
                     " is less than the message's ", need, " bytes")));
  }
  if (need == 0) return SHMPORT_OK;
  SHMPORT_C_REQUIRE(out);
  message->message.CopyTo(static_cast<uint8_t*>(out));
  return SHMPORT_OK;
}

shmport_status shmport_message_release(shmport_message* message) {
  delete message;
  return SHMPORT_OK;
}

}  // extern "C"
