// worker: one producer of the `make run` demo. Registers (as worker-1 by
// default), opens a port to the router by name and streams payloads through
// shared memory as fast as the router takes them, until SIGINT/SIGTERM.
// Then it waits for the router to free every chunk, closes the port, and
// prints one summary line:
//
//   summary role=worker name=worker-1 port=3 messages=51234 bytes=13430685696
//     seconds=5.00 chunks_in_use=0 fds_leaked=0 mappings_left=0
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "examples/payload_pattern.h"
#include "examples/resource_census.h"
#include "examples/shutdown_signals.h"
#include "shmport/session.h"

ABSL_FLAG(std::string, name, "worker-1", "the name to register");
ABSL_FLAG(std::string, router, "router", "the process to stream to");
ABSL_FLAG(uint32_t, payload, 256 * 1024, "bytes per message (>= 8)");
ABSL_FLAG(std::string, summary_file, "",
          "also write the summary line to this file (for the demo script)");
ABSL_FLAG(std::string, address, "",
          "shmportd's address (default: $SHMPORT_ADDRESS, else the "
          "per-user default socket)");

namespace shmport::examples {
namespace {

int Fail(absl::string_view what, const absl::Status& status) {
  std::fprintf(stderr, "worker %s: %s: %s\n", absl::GetFlag(FLAGS_name).c_str(),
               std::string(what).c_str(), status.ToString().c_str());
  return 1;
}

// The router has not registered yet (NOT_FOUND) or has not attached its
// broker link yet (FAILED_PRECONDITION): both pass in a moment.
bool IsStarting(const absl::Status& status) {
  return status.code() == absl::StatusCode::kNotFound ||
         status.code() == absl::StatusCode::kFailedPrecondition;
}

int Run(ShutdownSignals& shutdown) {
  const std::string name = absl::GetFlag(FLAGS_name);
  const uint32_t payload = absl::GetFlag(FLAGS_payload);
  if (payload < 8) {
    std::fprintf(stderr, "worker: --payload=%u: use at least 8 bytes\n",
                 payload);
    return 2;
  }
  auto session = Session::Connect({.name = name,
                                   .labels = {{"role", "worker"}},
                                   .address = absl::GetFlag(FLAGS_address)});
  if (!session.ok()) return Fail("cannot register", session.status());

  // The router may register after us: retry while it is starting.
  const std::string router = absl::GetFlag(FLAGS_router);
  absl::StatusOr<std::unique_ptr<Port>> port = (*session)->OpenPort(router);
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (IsStarting(port.status()) && absl::Now() < give_up &&
         !shutdown.Wait(absl::Milliseconds(100))) {
    port = (*session)->OpenPort(router);
  }
  if (!port.ok())
    return Fail(absl::StrCat("cannot open a port to ", router), port.status());
  // Remembered to prove, after the port closed, that its socket went too.
  const std::string socket = FdTarget((*port)->fd());
  std::printf("%s: streaming %u-byte messages to %s over port %lu\n",
              name.c_str(), payload, router.c_str(),
              static_cast<unsigned long>((*port)->port_id()));
  std::fflush(stdout);

  const absl::Time start = absl::Now();
  uint64_t messages = 0;
  uint64_t bytes = 0;
  absl::Status failure;
  while (!shutdown.Requested()) {
    // Blocks while the router holds all our memory (backpressure), but
    // never so long that a stop request waits.
    absl::StatusOr<Buffer> buffer =
        (*port)->Allocate(payload, absl::Milliseconds(100));
    if (buffer.status().code() == absl::StatusCode::kDeadlineExceeded) continue;
    if (!buffer.ok()) {
      failure = buffer.status();
      break;
    }
    WritePattern(buffer->span(), messages);
    if (absl::Status s = (*port)->Send(/*stream=*/1, *std::move(buffer));
        !s.ok()) {
      failure = s;
      break;
    }
    ++messages;
    bytes += payload;
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);

  // The router frees chunks as it drops messages; wait (bounded) for the
  // last ones before closing, so the count below means "leaked", not "in
  // flight".
  const absl::Time drain_deadline = absl::Now() + absl::Seconds(5);
  while ((*port)->stats().chunks_in_use > 0 && !(*port)->closed() &&
         absl::Now() < drain_deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  const uint32_t chunks_in_use = (*port)->stats().chunks_in_use;
  const uint64_t port_id = (*port)->port_id();
  port->reset();  // BYE: the router sees the port close
  const int fds_leaked = CountPortFds({socket});
  const int mappings_left = SegmentMappingCount();

  if (!failure.ok()) Fail("stopped", failure);
  const std::string summary = absl::StrFormat(
      "summary role=worker name=%s port=%d messages=%d bytes=%d "
      "seconds=%.2f chunks_in_use=%d fds_leaked=%d mappings_left=%d\n",
      name, port_id, messages, bytes, seconds, chunks_in_use, fds_leaked,
      mappings_left);
  std::fputs(summary.c_str(), stdout);
  if (const std::string file = absl::GetFlag(FLAGS_summary_file);
      !file.empty()) {
    std::ofstream(file) << summary;
  }
  return failure.ok() ? 0 : 1;
}

}  // namespace
}  // namespace shmport::examples

int main(int argc, char** argv) {
  // First: the Session's threads must inherit the blocked signals.
  shmport::examples::ShutdownSignals shutdown;
  absl::SetProgramUsageMessage(
      "streams payloads to the demo router until SIGINT/SIGTERM");
  absl::ParseCommandLine(argc, argv);
  return shmport::examples::Run(shutdown);
}
