// cpp_echo_peer: the C++ end of the Python tests (tests/python/*_test.py).
// Registers as --name, prints "ready" once registered, accepts one port and
// then, by --mode:
//   echo    checks every incoming message (byte i of message k, k being
//           its stream, is (k + i) mod 256) and answers with the same
//           size, stream k, byte i = (k + 1 + i) mod 256; it holds the last
//           two messages, so that the sender's mappings are in use;
//   stream  sends --count messages of --size bytes (examples/
//           payload_pattern: the sequence number, then its low byte), the
//           last one flagged LAST, then reads until the port closes.
// When the port fails it drops everything and prints
//   summary status=<CODE> chunks_in_use=N fds_leaked=N mappings_left=N
// (what is left of the port in this process, examples/resource_census.h).
// Exit: 0 when the port ended UNAVAILABLE (the peer closed or died), 1 on
// any other end, 3 when a message was wrong.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "examples/payload_pattern.h"
#include "examples/resource_census.h"
#include "shmport/session.h"

ABSL_FLAG(std::string, address, "", "the daemon's address");
ABSL_FLAG(std::string, name, "cpp-peer", "the name to register");
ABSL_FLAG(std::string, mode, "echo", "echo or stream");
ABSL_FLAG(uint32_t, count, 0, "stream: messages to send");
ABSL_FLAG(uint32_t, size, 0, "stream: bytes per message");

namespace {

using shmport::Buffer;
using shmport::Message;
using shmport::Port;

constexpr absl::Duration kBound = absl::Seconds(30);

// Byte j is j mod 256: the pattern of message k at offset o is the slice
// starting at (k + o) mod 256 (memcmp/memcpy: fast even unoptimised).
const uint8_t* PatternTable() {
  static const uint8_t* const table = [] {
    auto* t = new uint8_t[(16u << 20) + 256];
    for (size_t j = 0; j < (16u << 20) + 256; ++j) t[j] = j & 0xff;
    return t;
  }();
  return table;
}

bool PatternOk(const Message& m, uint32_t offset) {
  const uint8_t* expected = PatternTable() + (m.stream() + offset) % 256;
  for (size_t f = 0; f < m.fragment_count(); ++f) {
    const absl::Span<const uint8_t> bytes = m.fragment(f);
    if (m.size() > (16u << 20) ||
        std::memcmp(bytes.data(), expected, bytes.size()) != 0) {
      return false;
    }
    expected += bytes.size();
  }
  return true;
}

// Answers every message until the port fails; returns how it failed.
absl::Status Echo(Port& port, int& exit_code) {
  std::deque<Message> held;
  while (true) {
    absl::StatusOr<Message> m = port.Receive(kBound);
    if (!m.ok()) return m.status();
    if (!PatternOk(*m, 0)) {
      std::fprintf(stderr, "cpp_echo_peer: message %u (%zu bytes) is wrong\n",
                   m->stream(), m->size());
      exit_code = 3;
      return absl::DataLossError("a message was wrong");
    }
    absl::StatusOr<Buffer> reply = port.Allocate(m->size(), kBound);
    if (!reply.ok()) return reply.status();
    std::memcpy(reply->data(), PatternTable() + (m->stream() + 1) % 256,
                reply->size());
    if (absl::Status s = port.Send(m->stream(), *std::move(reply)); !s.ok()) {
      return s;
    }
    held.push_back(*std::move(m));
    if (held.size() > 2) held.pop_front();
  }
}

absl::Status Stream(Port& port, uint32_t count, uint32_t size) {
  for (uint32_t i = 0; i < count; ++i) {
    absl::StatusOr<Buffer> b = port.Allocate(size, kBound);
    if (!b.ok()) return b.status();
    shmport::examples::WritePattern(b->span(), i);
    if (absl::Status s = port.Send(0, *std::move(b), i + 1 == count); !s.ok()) {
      return s;
    }
  }
  while (true) {
    absl::StatusOr<Message> m = port.Receive(kBound);
    if (!m.ok()) return m.status();
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  auto session =
      shmport::Session::Connect({.name = absl::GetFlag(FLAGS_name),
                                 .address = absl::GetFlag(FLAGS_address)});
  if (!session.ok()) {
    std::fprintf(stderr, "cpp_echo_peer: %s\n",
                 session.status().ToString().c_str());
    return 1;
  }
  std::printf("ready\n");
  std::fflush(stdout);
  absl::StatusOr<std::unique_ptr<Port>> port =
      (*session)->AcceptPort(absl::Seconds(30));
  if (!port.ok()) {
    std::fprintf(stderr, "cpp_echo_peer: %s\n",
                 port.status().ToString().c_str());
    return 1;
  }
  const std::string socket = shmport::examples::FdTarget((*port)->fd());
  int exit_code = 0;
  const absl::Status end = absl::GetFlag(FLAGS_mode) == "stream"
                               ? Stream(**port, absl::GetFlag(FLAGS_count),
                                        absl::GetFlag(FLAGS_size))
                               : Echo(**port, exit_code);
  const uint32_t chunks_in_use = (*port)->stats().chunks_in_use;
  port->reset();
  // The session's link thread may still hold the port a moment after this
  // end saw it close: it closes ports on the daemon's word, and keeps a
  // live peer's socket open up to a second so that its EOF does not
  // overtake the daemon's notice. Dropping the session too joins that
  // thread, so the count below is exact: whatever is left is leaked.
  session->reset();
  std::printf(
      "summary status=%s chunks_in_use=%u fds_leaked=%d "
      "mappings_left=%d\n",
      absl::StatusCodeToString(end.code()).c_str(), chunks_in_use,
      shmport::examples::CountPortFds({socket}),
      shmport::examples::SegmentMappingCount());
  std::fflush(stdout);
  if (exit_code != 0) return exit_code;
  return absl::IsUnavailable(end) ? 0 : 1;
}
