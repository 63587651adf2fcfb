#include "tests/fuzz/broker_frame_input.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/eventfd.h>

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/types/span.h"
#include "client/broker_link.h"
#include "server/broker_frames.h"
#include "tests/fuzz/fuzz_check.h"

namespace shmport::fuzz {
namespace {

constexpr size_t kMaxFrame = 64 * 1024;  // broker.proto

bool AllPrintable(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isprint(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// The frame, when the datagram is one the protocol allows at all.
bool ParsesAsFrame(const std::vector<uint8_t>& d, v1::BrokerFrame* frame) {
  return !d.empty() && d.size() <= kMaxFrame &&
         frame->ParseFromArray(d.data(), static_cast<int>(d.size()));
}

bool SameMessage(const google::protobuf::Message& a,
                 const google::protobuf::Message& b) {
  return a.SerializeAsString() == b.SerializeAsString();
}

void CheckRefusal(const absl::Status& s, absl::StatusCode code) {
  SHMPORT_FUZZ_CHECK(s.code() == code) << s;
  SHMPORT_FUZZ_CHECK(!s.message().empty() && AllPrintable(s.message())) << s;
}

absl::Status CheckAttach(const BrokerFrameInput& in) {
  v1::BrokerFrame frame;
  const bool should =
      ParsesAsFrame(in.datagram, &frame) && frame.has_attach() &&
      frame.attach().process_id() != 0 &&
      frame.attach().session_token().size() <= server::kMaxSessionTokenBytes;
  absl::StatusOr<v1::Attach> attach = server::ParseAttach(in.datagram);
  SHMPORT_FUZZ_CHECK(attach.ok() == should) << attach.status();
  if (!attach.ok()) {
    CheckRefusal(attach.status(), absl::StatusCode::kInvalidArgument);
    return attach.status();
  }
  SHMPORT_FUZZ_CHECK(SameMessage(*attach, frame.attach()));
  return absl::OkStatus();
}

absl::Status CheckLinkFrame(const BrokerFrameInput& in) {
  v1::BrokerFrame expected;
  // A StatsReport may carry at most kMaxReportedSubscriptions subscription
  // entries; every other well-formed frame parses.
  const bool should =
      ParsesAsFrame(in.datagram, &expected) &&
      static_cast<size_t>(expected.stats_report().subscriptions_size()) <=
          server::kMaxReportedSubscriptions;
  v1::BrokerFrame frame;
  const absl::Status s = server::ParseLinkFrame(in.datagram, &frame);
  SHMPORT_FUZZ_CHECK(s.ok() == should) << s;
  if (!s.ok()) {
    CheckRefusal(s, absl::StatusCode::kInvalidArgument);
    SHMPORT_FUZZ_CHECK(absl::StartsWith(s.message(), "protocol error: ")) << s;
    return s;
  }
  SHMPORT_FUZZ_CHECK(SameMessage(frame, expected));
  return s;
}

// AttachResultStatus agrees with broker.proto: 0 is OK, 1..16 the
// google.rpc.Code with the daemon's message, anything else INTERNAL.
void CheckAttachResult(const v1::BrokerFrame& frame) {
  const absl::Status s = AttachResultStatus(frame);
  if (!frame.has_attach_result()) {
    SHMPORT_FUZZ_CHECK(absl::IsInternal(s)) << s;
    return;
  }
  const int code = frame.attach_result().code();
  if (code == 0) {
    SHMPORT_FUZZ_CHECK(s.ok()) << s;
  } else if (code > 0 && code <= 16) {
    SHMPORT_FUZZ_CHECK(static_cast<int>(s.code()) == code) << s;
    SHMPORT_FUZZ_CHECK(s.message() == frame.attach_result().message()) << s;
  } else {
    SHMPORT_FUZZ_CHECK(absl::IsInternal(s)) << s;
  }
}

absl::Status CheckNotice(const BrokerFrameInput& in) {
  std::vector<UniqueFd> fds;
  std::vector<int> numbers;
  for (int i = 0; i < in.num_fds; ++i) {
    UniqueFd fd(::eventfd(0, EFD_CLOEXEC));
    SHMPORT_FUZZ_CHECK(fd.valid()) << "eventfd: errno " << errno;
    numbers.push_back(fd.get());
    fds.push_back(std::move(fd));
  }
  v1::BrokerFrame expected;
  const bool parses = ParsesAsFrame(in.datagram, &expected);
  // PortOpened and SubscriptionOpened carry one fd, nothing else any.
  const int want_fds = parses && (expected.has_port_opened() ||
                                  expected.has_subscription_opened())
                           ? 1
                           : 0;
  absl::Status verdict;
  {
    absl::StatusOr<BrokerNotice> notice =
        ParseBrokerNotice(in.datagram, std::move(fds));
    SHMPORT_FUZZ_CHECK(notice.ok() == (parses && in.num_fds == want_fds))
        << notice.status();
    if (notice.ok()) {
      SHMPORT_FUZZ_CHECK(SameMessage(notice->frame, expected));
      SHMPORT_FUZZ_CHECK(notice->fd.get() == (want_fds ? numbers[0] : -1));
      CheckAttachResult(notice->frame);
    } else {
      CheckRefusal(notice.status(), in.datagram.empty()
                                        ? absl::StatusCode::kUnavailable
                                        : absl::StatusCode::kInvalidArgument);
    }
    verdict = notice.status();
  }
  // Whatever the verdict, nothing attached outlives the notice.
  for (int fd : numbers) {
    SHMPORT_FUZZ_CHECK(::fcntl(fd, F_GETFD) == -1 && errno == EBADF)
        << "fd " << fd << " leaked";
  }
  return verdict;
}

}  // namespace

BrokerFrameInput BrokerFrameInput::Parse(const uint8_t* data, size_t size) {
  BrokerFrameInput in;
  if (size == 0) return in;
  in.from_daemon = (data[0] & 1) != 0;
  in.first_frame = (data[0] & 2) != 0;
  in.num_fds = (data[0] >> 2) & 3;
  in.datagram.assign(data + 1, data + size);
  return in;
}

std::vector<uint8_t> BrokerFrameInput::Encode() const {
  std::vector<uint8_t> out;
  out.push_back(static_cast<uint8_t>((from_daemon ? 1 : 0) |
                                     (first_frame ? 2 : 0) | (num_fds << 2)));
  out.insert(out.end(), datagram.begin(), datagram.end());
  return out;
}

BrokerFrameInput BrokerFrameInput::ToDaemon(const v1::BrokerFrame& frame,
                                            bool first) {
  const std::string bytes = frame.SerializeAsString();
  return {false, first, 0, std::vector<uint8_t>(bytes.begin(), bytes.end())};
}

BrokerFrameInput BrokerFrameInput::ToClient(const v1::BrokerFrame& frame,
                                            int fds) {
  const std::string bytes = frame.SerializeAsString();
  return {true, false, fds, std::vector<uint8_t>(bytes.begin(), bytes.end())};
}

absl::Status CheckBrokerFrame(const BrokerFrameInput& in) {
  if (in.from_daemon) return CheckNotice(in);
  return in.first_frame ? CheckAttach(in) : CheckLinkFrame(in);
}

}  // namespace shmport::fuzz
