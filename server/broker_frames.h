// The daemon's reading of the frames a client sends on its broker
// connection (proto/shmport/v1/broker.proto): the first frame, which must
// be Attach, and every later one. Pure functions of the datagram, so the
// broker_frame_fuzzer can drive them directly.
#ifndef SHMPORT_SERVER_BROKER_FRAMES_H_
#define SHMPORT_SERVER_BROKER_FRAMES_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "shmport/v1/broker.pb.h"

namespace shmport::server {

// A frame is at most 64 KiB (broker.proto).
inline constexpr size_t kMaxBrokerFrame = 64 * 1024;
// Session tokens are 64 hex digits (server/secret.h); anything much longer
// is not one, and is refused before it is compared.
inline constexpr size_t kMaxSessionTokenBytes = 256;
// StatsReport.subscriptions entries one frame may carry (broker.proto).
inline constexpr size_t kMaxReportedSubscriptions = 4096;

// The first frame of a connection. INVALID_ARGUMENT unless it is an
// Attach of at most kMaxBrokerFrame bytes with a non-zero process_id and a
// session_token of at most kMaxSessionTokenBytes.
absl::StatusOr<v1::Attach> ParseAttach(absl::Span<const uint8_t> datagram);

// A frame on an attached link, into `*frame`. INVALID_ARGUMENT ("protocol
// error: ...") when it is empty, larger than kMaxBrokerFrame, does not
// parse, or is a StatsReport of more than kMaxReportedSubscriptions
// subscriptions. Any kind parses; the broker acts on StatsReport,
// PortNotTaken, ResumePorts and Goodbye and ignores the rest (a client's
// SubscriptionOpened / SubscriptionClosed among them).
absl::Status ParseLinkFrame(absl::Span<const uint8_t> datagram,
                            v1::BrokerFrame* frame);

}  // namespace shmport::server

#endif  // SHMPORT_SERVER_BROKER_FRAMES_H_
