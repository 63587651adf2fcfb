// Loading shmportd's text-format configuration (server/config.proto).
#ifndef SHMPORT_SERVER_CONFIG_H_
#define SHMPORT_SERVER_CONFIG_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/config.pb.h"

namespace shmport::server {

using DaemonConfig = ::shmport::config::v1::DaemonConfig;

// Built-in defaults (docs/control-plane.md lists them).
inline constexpr uint32_t kDefaultAttachTimeoutMs = 5000;
inline constexpr uint32_t kDefaultWatcherQueueLimit = 4096;
inline constexpr uint32_t kDefaultMaxProcesses = 4096;
inline constexpr uint32_t kDefaultMaxPortsPerProcess = 1024;
inline constexpr uint32_t kDefaultMaxPorts = 65536;
inline constexpr uint32_t kDefaultMaxSegmentsPerPort = 8;
inline constexpr uint64_t kDefaultMaxBytesPerPort = 1ull << 30;
inline constexpr uint32_t kDefaultRegistrationsPerSecond = 1000;
inline constexpr uint32_t kDefaultRegistrationBurst = 1000;
inline constexpr uint32_t kDefaultBrokerPendingTimeoutMs = 3000;
inline constexpr uint32_t kDefaultMaxPendingBrokerConnectionsPerUid = 64;
inline constexpr uint32_t kDefaultMaxPendingBrokerConnections = 1024;
inline constexpr uint32_t kDefaultMaxControlConnections = 8192;
// Control connections a uid may hold beyond one per possible process.
inline constexpr uint32_t kControlConnectionsHeadroom = 256;
inline constexpr uint64_t kDefaultWatcherQueueBytes = 8ull << 20;
inline constexpr uint64_t kDefaultListPageBytes = 3ull << 20;
inline constexpr uint64_t kMinListPageBytes = 4ull << 10;
inline constexpr uint64_t kMaxListPageBytes = 1ull << 30;
inline constexpr uint32_t kDefaultMaxUnattachedRegistrations = 1024;
inline constexpr uint32_t kDefaultMaxProcessesPerUid = 2048;
inline constexpr uint32_t kDefaultMaxIncomingPortsPerProcess = 512;
inline constexpr uint32_t kDefaultMaxPortsPerPair = 64;
inline constexpr uint32_t kDefaultMaxWatchers = 64;
inline constexpr uint32_t kDefaultMaxWatchersPerUid = 16;
inline constexpr uint32_t kDefaultChunkSize = 16 * 1024;
inline constexpr uint32_t kDefaultChunkCount = 1024;
inline constexpr uint32_t kDefaultInlineThreshold = 1024;
inline constexpr uint32_t kDefaultMaxPortSeries = 256;
inline constexpr uint32_t kDefaultMaxSubscriptionSeries = 256;
inline constexpr uint32_t kDefaultMaxTopics = 4096;
inline constexpr uint32_t kDefaultMaxSubscribersPerTopic = 64;
inline constexpr uint32_t kDefaultMaxSubscriptionsPerProcess = 256;
inline constexpr uint32_t kDefaultMaxPublicationsPerProcess = 64;
inline constexpr uint32_t kDefaultMaxTopicHistory = 1024;
inline constexpr uint32_t kDefaultMaxTopicQueueDepth = 4096;
inline constexpr uint64_t kDefaultMaxBytesPerTopic = 1ull << 30;
// Inline payloads ride in one socket datagram; keep them well inside the
// default socket buffer.
inline constexpr uint32_t kMaxInlineThreshold = 64 * 1024;

// Parses `text` (protobuf text format), fills every zero field with its
// default and validates the result. `origin` (a file name) prefixes error
// messages. Errors: INVALID_ARGUMENT with the line and column of a syntax
// error, or the field and value that is out of range.
absl::StatusOr<DaemonConfig> ParseDaemonConfig(absl::string_view text,
                                               absl::string_view origin);

// Reads and parses the file at `path`; an empty path yields the defaults.
// Errors: NOT_FOUND / PERMISSION_DENIED for an unreadable file, or those of
// ParseDaemonConfig.
absl::StatusOr<DaemonConfig> LoadDaemonConfig(absl::string_view path);

}  // namespace shmport::server

#endif  // SHMPORT_SERVER_CONFIG_H_
