// The input of broker_frame_fuzzer: one broker-link datagram and the parser
// that meets it (the daemon's, of frames from clients, or a client's, of
// frames from the daemon), and the checks made on every input.
//
//   byte 0, bit 0    0: the daemon reads it from a client
//                    1: a client reads it from the daemon
//           bit 1    daemon: 1 = a connection's first frame (ParseAttach),
//                    0 = a frame on an attached link (ParseLinkFrame)
//           bits 2-3 client: fds attached to the datagram (0..3)
//   bytes 1..        the datagram
#ifndef SHMPORT_TESTS_FUZZ_BROKER_FRAME_INPUT_H_
#define SHMPORT_TESTS_FUZZ_BROKER_FRAME_INPUT_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "shmport/v1/broker.pb.h"

namespace shmport::fuzz {

struct BrokerFrameInput {
  bool from_daemon = false;
  bool first_frame = false;
  int num_fds = 0;
  std::vector<uint8_t> datagram;

  static BrokerFrameInput Parse(const uint8_t* data, size_t size);
  std::vector<uint8_t> Encode() const;

  // Seeds: a serialized frame for the daemon (as a connection's first frame
  // or on a link), or for a client with `fds` attached.
  static BrokerFrameInput ToDaemon(const v1::BrokerFrame& frame, bool first);
  static BrokerFrameInput ToClient(const v1::BrokerFrame& frame, int fds);
};

// Runs `in` through its parser, with real descriptors (eventfds) as the
// attached fds, and checks (SHMPORT_FUZZ_CHECK, aborting) that the verdict
// agrees with an independent statement of the rules, that refusals carry
// the documented code and a printable message, that an accepted frame is
// what was sent, and that no attached fd survives unless a PortOpened or
// SubscriptionOpened notice owns it. Returns the parser's verdict.
absl::Status CheckBrokerFrame(const BrokerFrameInput& in);

}  // namespace shmport::fuzz

#endif  // SHMPORT_TESTS_FUZZ_BROKER_FRAME_INPUT_H_
