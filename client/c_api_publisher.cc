// The C ABI's publishing end of a topic (include/shmport/shmport.h,
// "Topics"): shmport_session_publish, the publisher and its sample
// buffers. Each call is a thin shell around shmport::Publisher's.
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/c_api_errors.h"
#include "client/c_api_handles.h"
#include "client/c_api_options.h"
#include "shmport/shmport.h"
#include "shmport/topic.h"

using shmport::c_api::Fail;
using shmport::c_api::InvalidArgument;

namespace {

// Publisher::Allocate's default timeout, for SHMPORT_DEFAULT_TIMEOUT.
constexpr absl::Duration kDefaultAllocateTimeout = absl::Seconds(10);

shmport_status ReturnBuffer(absl::StatusOr<shmport::SampleBuffer> buffer,
                            shmport_publisher* publisher,
                            shmport_sample_buffer** out) {
  if (!buffer.ok()) return Fail(buffer.status(), publisher->error);
  *out = new shmport_sample_buffer{.buffer = std::move(*buffer)};
  return SHMPORT_OK;
}

// Writes entry `index` of the caller's array of `stride`-byte structs.
absl::Status WriteSubscription(const shmport::TopicSubscriptionStats& s,
                               size_t stride, size_t index,
                               shmport_subscription_stats* out) {
  auto* at = reinterpret_cast<unsigned char*>(out) + index * stride;
  std::memcpy(at, &stride, sizeof(stride));
  const shmport_subscription_stats full = shmport::c_api::ToCStats(s);
  return shmport::c_api::WriteStructBytes(&full, at, sizeof(full),
                                          "shmport_subscription_stats");
}

}  // namespace

extern "C" {

shmport_status shmport_session_publish(shmport_session* session,
                                       const char* topic,
                                       const shmport_publisher_options* options,
                                       shmport_publisher** out) {
  SHMPORT_C_REQUIRE(out);
  *out = nullptr;
  SHMPORT_C_REQUIRE(session);
  SHMPORT_C_REQUIRE(topic);
  absl::StatusOr<shmport::PublisherOptions> o =
      shmport::c_api::ToPublisherOptions(options);
  if (!o.ok()) return Fail(o.status(), session->error);
  absl::StatusOr<std::unique_ptr<shmport::Publisher>> publisher =
      session->session->Publish(topic, *o);
  if (!publisher.ok()) return Fail(publisher.status(), session->error);
  *out = new shmport_publisher{.session = session->session,
                               .publisher = std::move(*publisher)};
  return SHMPORT_OK;
}

shmport_status shmport_publisher_free(shmport_publisher* publisher) {
  delete publisher;
  return SHMPORT_OK;
}

shmport_status shmport_publisher_allocate(shmport_publisher* publisher,
                                          size_t size, int64_t timeout_ms,
                                          shmport_sample_buffer** out) {
  SHMPORT_C_REQUIRE(out);
  *out = nullptr;
  SHMPORT_C_REQUIRE(publisher);
  absl::Duration timeout = kDefaultAllocateTimeout;
  if (timeout_ms != SHMPORT_DEFAULT_TIMEOUT) {
    if (absl::Status s = shmport::c_api::SetDuration(
            timeout_ms, absl::Milliseconds(1),
            "shmport_publisher_allocate: timeout_ms", &timeout);
        !s.ok()) {
      return Fail(s, publisher->error);
    }
  }
  return ReturnBuffer(publisher->publisher->Allocate(size, timeout), publisher,
                      out);
}

shmport_status shmport_publisher_try_allocate(shmport_publisher* publisher,
                                              size_t size,
                                              shmport_sample_buffer** out) {
  SHMPORT_C_REQUIRE(out);
  *out = nullptr;
  SHMPORT_C_REQUIRE(publisher);
  return ReturnBuffer(publisher->publisher->TryAllocate(size), publisher, out);
}

shmport_status shmport_sample_buffer_data(const shmport_sample_buffer* buffer,
                                          void** data, size_t* size) {
  SHMPORT_C_REQUIRE(buffer);
  if (data != nullptr) *data = buffer->buffer.data();
  if (size != nullptr) *size = buffer->buffer.size();
  return SHMPORT_OK;
}

shmport_status shmport_sample_buffer_capacity(
    const shmport_sample_buffer* buffer, size_t* capacity) {
  SHMPORT_C_REQUIRE(buffer);
  SHMPORT_C_REQUIRE(capacity);
  *capacity = buffer->buffer.capacity();
  return SHMPORT_OK;
}

shmport_status shmport_sample_buffer_resize(shmport_sample_buffer* buffer,
                                            size_t size) {
  SHMPORT_C_REQUIRE(buffer);
  if (!buffer->buffer.Resize(size)) {
    return Fail(absl::OutOfRangeError(absl::StrCat(
        "shmport_sample_buffer_resize: size ", size,
        " is beyond the buffer's capacity ", buffer->buffer.capacity())));
  }
  return SHMPORT_OK;
}

shmport_status shmport_sample_buffer_free(shmport_sample_buffer* buffer) {
  delete buffer;
  return SHMPORT_OK;
}

shmport_status shmport_publisher_publish(shmport_publisher* publisher,
                                         shmport_sample_buffer* buffer,
                                         uint64_t* sequence) {
  std::unique_ptr<shmport_sample_buffer> taken(buffer);  // consumed, always
  SHMPORT_C_REQUIRE(publisher);
  SHMPORT_C_REQUIRE(buffer);
  absl::StatusOr<uint64_t> published =
      publisher->publisher->Publish(std::move(taken->buffer));
  if (!published.ok()) return Fail(published.status(), publisher->error);
  if (sequence != nullptr) *sequence = *published;
  return SHMPORT_OK;
}

shmport_status shmport_publisher_fd(const shmport_publisher* publisher,
                                    int* fd) {
  SHMPORT_C_REQUIRE(publisher);
  SHMPORT_C_REQUIRE(fd);
  *fd = publisher->publisher->fd();
  return SHMPORT_OK;
}

shmport_status shmport_publisher_topic(const shmport_publisher* publisher,
                                       const char** topic) {
  SHMPORT_C_REQUIRE(publisher);
  SHMPORT_C_REQUIRE(topic);
  *topic = publisher->publisher->topic().c_str();
  return SHMPORT_OK;
}

shmport_status shmport_publisher_stats_get(const shmport_publisher* publisher,
                                           shmport_publisher_stats* stats) {
  SHMPORT_C_REQUIRE(publisher);
  SHMPORT_C_REQUIRE(stats);
  absl::Status s = shmport::c_api::WriteStruct(
      shmport::c_api::ToCStats(publisher->publisher->stats()), stats,
      "shmport_publisher_stats");
  return s.ok() ? SHMPORT_OK : Fail(s);
}

shmport_status shmport_publisher_subscriptions_get(
    const shmport_publisher* publisher, shmport_subscription_stats* out,
    size_t capacity, size_t* count) {
  SHMPORT_C_REQUIRE(publisher);
  SHMPORT_C_REQUIRE(count);
  if (capacity > 0) SHMPORT_C_REQUIRE(out);
  size_t stride = 0;
  if (capacity > 0) std::memcpy(&stride, out, sizeof(stride));
  if (capacity > 0 &&
      (stride < sizeof(size_t) || stride > shmport::c_api::kMaxStructSize)) {
    return InvalidArgument(
        __func__,
        absl::StrCat("out[0].struct_size is ", stride,
                     "; set it to sizeof(shmport_subscription_stats)"));
  }
  const std::vector<shmport::TopicSubscriptionStats> live =
      publisher->publisher->stats().subscriptions;
  for (size_t i = 0; i < live.size() && i < capacity; ++i) {
    absl::Status s = WriteSubscription(live[i], stride, i, out);
    if (!s.ok()) return Fail(s);
  }
  *count = live.size();
  return SHMPORT_OK;
}

shmport_status shmport_publisher_last_error(const shmport_publisher* publisher,
                                            char* out, size_t out_size,
                                            size_t* length) {
  SHMPORT_C_REQUIRE(publisher);
  return publisher->error.CopyTo(__func__, out, out_size, length);
}

}  // extern "C"
