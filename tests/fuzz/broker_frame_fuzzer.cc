// Fuzz target: the broker link's frame parsers on both sides: the daemon's
// reading of what a client sends (its first frame, which must be Attach,
// and every later frame; server/broker_frames.h) and a client's reading of
// what the daemon sends, with the fds that came along (ParseBrokerNotice,
// AttachResultStatus; client/broker_link.h). The input format and the
// checks are in broker_frame_input.h.
#include <cstddef>
#include <cstdint>

#include "google/protobuf/stubs/logging.h"
#include "tests/fuzz/broker_frame_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A malformed frame is the expected case; protobuf need not say so.
  static const bool quiet = [] {
    google::protobuf::SetLogHandler(nullptr);
    return true;
  }();
  (void)quiet;
  (void)shmport::fuzz::CheckBrokerFrame(
      shmport::fuzz::BrokerFrameInput::Parse(data, size));
  return 0;
}
