// The C ABI's option and result structs (include/shmport/shmport.h) to and
// from the C++ ones. Each C struct opens with struct_size, so that it can
// grow: see ReadStruct and WriteStruct.
#ifndef SHMPORT_CLIENT_C_API_OPTIONS_H_
#define SHMPORT_CLIENT_C_API_OPTIONS_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "shmport/port.h"
#include "shmport/session.h"
#include "shmport/shmport.h"
#include "shmport/topic.h"

namespace shmport::c_api {

// A C duration (int64 of `unit`, SHMPORT_INFINITE for ever) as an
// absl::Duration; INVALID_ARGUMENT naming `field` for other negatives.
absl::StatusOr<absl::Duration> ToDuration(int64_t value, absl::Duration unit,
                                          absl::string_view field);
// ToDuration into *out.
absl::Status SetDuration(int64_t value, absl::Duration unit,
                         absl::string_view field, absl::Duration* out);
// The other way: SHMPORT_INFINITE for an infinite duration.
int64_t ToMs(absl::Duration d);
int64_t ToNs(absl::Duration d);

// Copies the caller's `given` struct, struct_size bytes of it, over
// `*into` (the defaults): a smaller struct_size (an older caller) keeps the
// defaults of the fields it lacks; a larger one (a newer caller) must have
// zeros where this library knows no field. `min_size` is the size of the
// struct's first version.
absl::Status ReadStruct(const void* given, size_t struct_size, void* into,
                        size_t size, size_t min_size, absl::string_view what);

// ReadStruct for an options struct: `out` starts as this library's
// defaults (`init`, the struct's shmport_*_init) and takes what the caller
// set in `given`.
template <typename T, typename Init>
absl::Status ReadOptions(const T& given, Init init, size_t min_size,
                         absl::string_view what, T& out);

// No version will ever be this large: a struct_size beyond it is garbage
// (an uninitialised struct), not a newer caller, and reading or writing
// that far could leave the caller's memory.
inline constexpr size_t kMaxStructSize = 4096;

// Copies `full` into the caller's `out` up to out->struct_size, keeping
// out->struct_size. INVALID_ARGUMENT when struct_size cannot even hold it.
template <typename T>
absl::Status WriteStruct(const T& full, T* out, absl::string_view what);

absl::StatusOr<PortOptions> ToPortOptions(const shmport_port_options* options);
absl::StatusOr<SessionOptions> ToSessionOptions(
    const shmport_session_options& options);
absl::StatusOr<OpenPortOptions> ToOpenPortOptions(
    const shmport_open_port_options* options);

shmport_port_stats ToCStats(const PortStats& stats);

// Topics (c_api_topic_options.cc).
absl::StatusOr<PublisherOptions> ToPublisherOptions(
    const shmport_publisher_options* options);
absl::StatusOr<SubscriberOptions> ToSubscriberOptions(
    const shmport_subscriber_options* options);
shmport_publisher_stats ToCStats(const PublisherStats& stats);
shmport_subscription_stats ToCStats(const TopicSubscriptionStats& stats);
shmport_subscriber_stats ToCStats(const SubscriberStats& stats);

// --- Implementation ---

absl::Status WriteStructBytes(const void* full, void* out, size_t size,
                              absl::string_view what);

template <typename T, typename Init>
absl::Status ReadOptions(const T& given, Init init, size_t min_size,
                         absl::string_view what, T& out) {
  static_assert(offsetof(T, struct_size) == 0);
  init(&out);
  return ReadStruct(&given, given.struct_size, &out, sizeof(T), min_size, what);
}

template <typename T>
absl::Status WriteStruct(const T& full, T* out, absl::string_view what) {
  static_assert(offsetof(T, struct_size) == 0);
  return WriteStructBytes(&full, out, sizeof(T), what);
}

}  // namespace shmport::c_api

#endif  // SHMPORT_CLIENT_C_API_OPTIONS_H_
