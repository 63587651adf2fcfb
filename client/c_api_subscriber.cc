// The C ABI's subscribing end of a topic (include/shmport/shmport.h,
// "Topics"): shmport_session_subscribe, the subscriber and its samples.
// Each call is a thin shell around shmport::Subscriber's.
#include <memory>
#include <utility>

#include "client/c_api_errors.h"
#include "client/c_api_handles.h"
#include "client/c_api_options.h"
#include "shmport/shmport.h"
#include "shmport/topic.h"

using shmport::c_api::Fail;

namespace {

shmport_status ReturnSample(absl::StatusOr<shmport::Sample> sample,
                            shmport_subscriber* subscriber,
                            shmport_sample** out) {
  if (!sample.ok()) return Fail(sample.status(), subscriber->error);
  *out = new shmport_sample{.sample = std::move(*sample)};
  return SHMPORT_OK;
}

}  // namespace

extern "C" {

shmport_status shmport_session_subscribe(
    shmport_session* session, const char* topic,
    const shmport_subscriber_options* options, shmport_subscriber** out) {
  SHMPORT_C_REQUIRE(out);
  *out = nullptr;
  SHMPORT_C_REQUIRE(session);
  SHMPORT_C_REQUIRE(topic);
  absl::StatusOr<shmport::SubscriberOptions> o =
      shmport::c_api::ToSubscriberOptions(options);
  if (!o.ok()) return Fail(o.status(), session->error);
  absl::StatusOr<std::unique_ptr<shmport::Subscriber>> subscriber =
      session->session->Subscribe(topic, *o);
  if (!subscriber.ok()) return Fail(subscriber.status(), session->error);
  *out = new shmport_subscriber{.session = session->session,
                                .subscriber = std::move(*subscriber)};
  return SHMPORT_OK;
}

shmport_status shmport_subscriber_free(shmport_subscriber* subscriber) {
  delete subscriber;
  return SHMPORT_OK;
}

shmport_status shmport_subscriber_receive(shmport_subscriber* subscriber,
                                          int64_t timeout_ms,
                                          shmport_sample** out) {
  SHMPORT_C_REQUIRE(out);
  *out = nullptr;
  SHMPORT_C_REQUIRE(subscriber);
  absl::StatusOr<absl::Duration> timeout =
      shmport::c_api::ToDuration(timeout_ms, absl::Milliseconds(1),
                                 "shmport_subscriber_receive: timeout_ms");
  if (!timeout.ok()) return Fail(timeout.status(), subscriber->error);
  return ReturnSample(subscriber->subscriber->Receive(*timeout), subscriber,
                      out);
}

shmport_status shmport_subscriber_try_receive(shmport_subscriber* subscriber,
                                              shmport_sample** out) {
  SHMPORT_C_REQUIRE(out);
  *out = nullptr;
  SHMPORT_C_REQUIRE(subscriber);
  absl::StatusOr<shmport::Sample> sample = subscriber->subscriber->TryReceive();
  // Subscriber::TryReceive's UNAVAILABLE means "nothing ready", which the
  // C ABI says as ports' try_receive does: OK with no sample.
  if (absl::IsUnavailable(sample.status())) return SHMPORT_OK;
  return ReturnSample(std::move(sample), subscriber, out);
}

shmport_status shmport_subscriber_fd(const shmport_subscriber* subscriber,
                                     int* fd) {
  SHMPORT_C_REQUIRE(subscriber);
  SHMPORT_C_REQUIRE(fd);
  *fd = subscriber->subscriber->fd();
  return SHMPORT_OK;
}

shmport_status shmport_subscriber_topic(const shmport_subscriber* subscriber,
                                        const char** topic) {
  SHMPORT_C_REQUIRE(subscriber);
  SHMPORT_C_REQUIRE(topic);
  *topic = subscriber->subscriber->topic().c_str();
  return SHMPORT_OK;
}

shmport_status shmport_subscriber_stats_get(
    const shmport_subscriber* subscriber, shmport_subscriber_stats* stats) {
  SHMPORT_C_REQUIRE(subscriber);
  SHMPORT_C_REQUIRE(stats);
  absl::Status s = shmport::c_api::WriteStruct(
      shmport::c_api::ToCStats(subscriber->subscriber->stats()), stats,
      "shmport_subscriber_stats");
  return s.ok() ? SHMPORT_OK : Fail(s);
}

shmport_status shmport_subscriber_last_error(
    const shmport_subscriber* subscriber, char* out, size_t out_size,
    size_t* length) {
  SHMPORT_C_REQUIRE(subscriber);
  return subscriber->error.CopyTo(__func__, out, out_size, length);
}

shmport_status shmport_sample_data(const shmport_sample* sample,
                                   const void** data, size_t* size) {
  SHMPORT_C_REQUIRE(sample);
  const absl::Span<const uint8_t> bytes = sample->sample.data();
  if (data != nullptr) *data = bytes.empty() ? nullptr : bytes.data();
  if (size != nullptr) *size = bytes.size();
  return SHMPORT_OK;
}

shmport_status shmport_sample_sequence(const shmport_sample* sample,
                                       uint64_t* sequence) {
  SHMPORT_C_REQUIRE(sample);
  SHMPORT_C_REQUIRE(sequence);
  *sequence = sample->sample.sequence();
  return SHMPORT_OK;
}

shmport_status shmport_sample_release(shmport_sample* sample) {
  delete sample;
  return SHMPORT_OK;
}

}  // extern "C"
