// Checks of request fields that come from clients, with messages that name
// the field, the value and the rule.
#ifndef SHMPORT_SERVER_VALIDATION_H_
#define SHMPORT_SERVER_VALIDATION_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/map.h"

namespace shmport::server {

inline constexpr size_t kMaxNameLength = 64;
inline constexpr size_t kMaxLabels = 32;
inline constexpr size_t kMaxLabelKeyLength = 63;
inline constexpr size_t kMaxLabelValueLength = 255;
inline constexpr size_t kMaxVersionLength = 64;
inline constexpr size_t kMaxTopicNameLength = 128;

// A process name: 1..64 characters from [A-Za-z0-9._-], starting with a
// letter or digit. `field` names the request field in the message.
absl::Status ValidateName(absl::string_view field, absl::string_view name);

// A topic name: as a process name, but 1..128 characters and '/' allowed
// ("camera/front").
absl::Status ValidateTopicName(absl::string_view field,
                               absl::string_view topic);

// At most 32 labels; keys 1..63 characters from [A-Za-z0-9._/-], values
// 0..255 printable ASCII characters.
absl::Status ValidateLabels(
    const google::protobuf::Map<std::string, std::string>& labels);

// The client library's version: 0..64 printable ASCII characters.
absl::Status ValidateVersion(absl::string_view version);

// `text` in double quotes, shortened to at most `max` characters ("..."
// marks the cut) and with non-printable characters and quotes replaced by
// '?', for quoting untrusted input in messages and logs.
inline constexpr size_t kMaxQuoted = 80;
std::string Quote(absl::string_view text, size_t max = kMaxQuoted);
// The longest reason from one client that the daemon passes to another.
inline constexpr size_t kMaxForwardedReason = 512;

}  // namespace shmport::server

#endif  // SHMPORT_SERVER_VALIDATION_H_
