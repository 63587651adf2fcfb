#include "server/broker_frames.h"

#include "absl/strings/str_cat.h"

namespace shmport::server {
namespace {

absl::Status CheckSize(absl::Span<const uint8_t> datagram) {
  if (datagram.size() > kMaxBrokerFrame) {
    return absl::InvalidArgumentError(
        absl::StrCat("protocol error: broker frame of ", datagram.size(),
                     " bytes exceeds ", kMaxBrokerFrame));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::Attach> ParseAttach(absl::Span<const uint8_t> datagram) {
  if (absl::Status s = CheckSize(datagram); !s.ok()) return s;
  v1::BrokerFrame frame;
  if (datagram.empty() ||
      !frame.ParseFromArray(datagram.data(),
                            static_cast<int>(datagram.size())) ||
      !frame.has_attach()) {
    return absl::InvalidArgumentError(
        "the first frame on a broker link must be Attach");
  }
  if (frame.attach().process_id() == 0) {
    return absl::InvalidArgumentError("Attach has process_id 0");
  }
  if (frame.attach().session_token().size() > kMaxSessionTokenBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Attach session_token of ", frame.attach().session_token().size(),
        " bytes exceeds ", kMaxSessionTokenBytes));
  }
  return std::move(*frame.mutable_attach());
}

absl::Status ParseLinkFrame(absl::Span<const uint8_t> datagram,
                            v1::BrokerFrame* frame) {
  if (absl::Status s = CheckSize(datagram); !s.ok()) return s;
  if (datagram.empty() ||
      !frame->ParseFromArray(datagram.data(),
                             static_cast<int>(datagram.size()))) {
    return absl::InvalidArgumentError("protocol error: malformed broker frame");
  }
  if (frame->has_stats_report() &&
      static_cast<size_t>(frame->stats_report().subscriptions_size()) >
          kMaxReportedSubscriptions) {
    return absl::InvalidArgumentError(
        absl::StrCat("protocol error: StatsReport with ",
                     frame->stats_report().subscriptions_size(),
                     " subscriptions; at most ", kMaxReportedSubscriptions));
  }
  return absl::OkStatus();
}

}  // namespace shmport::server
