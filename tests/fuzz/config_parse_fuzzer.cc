// Fuzz target: ParseDaemonConfig (server/config.h), which reads the
// operator's text-format file at start-up.
//
// Any text must give INVALID_ARGUMENT with a message that starts with the
// origin, or a config that keeps every promise the daemon relies on: no
// zero limit (defaults filled), a default geometry the limits allow, port
// rules with both patterns. An accepted config printed back as text must
// parse to the same config (defaults and checks are idempotent), and the
// Policy built from it must answer its questions without failing
// unexpectedly.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "common/segment_layout.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "server/config.h"
#include "server/policy.h"
#include "tests/fuzz/fuzz_check.h"

namespace shmport::fuzz {
namespace {

void CheckAccepted(const server::DaemonConfig& c) {
  const auto& l = c.limits();
  SHMPORT_FUZZ_CHECK(c.attach_timeout_ms() > 0);
  SHMPORT_FUZZ_CHECK(c.watcher_queue_limit() > 0);
  SHMPORT_FUZZ_CHECK(
      l.max_processes() > 0 && l.max_ports() > 0 &&
      l.max_ports_per_process() > 0 && l.max_segments_per_port() > 0 &&
      l.registrations_per_second() > 0 && l.registration_burst() > 0);
  SHMPORT_FUZZ_CHECK(l.max_ports_per_process() <= l.max_ports());
  const auto& g = l.default_geometry();
  SHMPORT_FUZZ_CHECK(g.chunk_size() >= layout::kMinChunkSize &&
                     g.chunk_size() <= l.max_chunk_size() &&
                     (g.chunk_size() & (g.chunk_size() - 1)) == 0)
      << "chunk_size " << g.chunk_size();
  SHMPORT_FUZZ_CHECK(g.chunk_count() > 0 &&
                     g.chunk_count() <= l.max_chunk_count())
      << "chunk_count " << g.chunk_count();
  SHMPORT_FUZZ_CHECK(static_cast<uint64_t>(g.chunk_size()) * g.chunk_count() <=
                     layout::kMaxSegmentDataBytes);
  SHMPORT_FUZZ_CHECK(g.max_segments() > 0 &&
                     g.max_segments() <= l.max_segments_per_port());
  SHMPORT_FUZZ_CHECK(g.inline_threshold() <= server::kMaxInlineThreshold);
  for (const auto& rule : c.policy().port_rules()) {
    SHMPORT_FUZZ_CHECK(!rule.from().empty() && !rule.to().empty());
  }
  for (const auto& rule : c.policy().name_rules()) {
    SHMPORT_FUZZ_CHECK(rule.name_patterns_size() > 0);
  }

  // Idempotent: the accepted config, as text, parses to itself.
  std::string text;
  SHMPORT_FUZZ_CHECK(google::protobuf::TextFormat::PrintToString(c, &text));
  auto again = server::ParseDaemonConfig(text, "reprinted");
  SHMPORT_FUZZ_CHECK(again.ok()) << again.status() << "\n" << text;
  SHMPORT_FUZZ_CHECK(
      google::protobuf::util::MessageDifferencer::Equals(c, *again))
      << "reparsed differently:\n"
      << text;

  // The policy it makes answers; the default geometry is grantable.
  server::Policy policy(c, /*daemon_uid=*/1000);
  auto granted = policy.Grant(g);
  SHMPORT_FUZZ_CHECK(granted.ok()) << granted.status();
  for (const char* name : {"router", "worker-1", "a"}) {
    for (uint32_t uid : {0u, 1000u, 65534u}) {
      const absl::Status s = policy.MayAttach(Credentials{1, uid, uid}, name);
      SHMPORT_FUZZ_CHECK(s.ok() || absl::IsPermissionDenied(s)) << s;
    }
  }
  const absl::Status open = policy.MayOpen("router", "worker-1");
  SHMPORT_FUZZ_CHECK(open.ok() || absl::IsPermissionDenied(open)) << open;
}

}  // namespace
}  // namespace shmport::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = shmport::server::ParseDaemonConfig(text, "fuzz.textproto");
  if (!config.ok()) {
    SHMPORT_FUZZ_CHECK(absl::IsInvalidArgument(config.status()))
        << config.status();
    SHMPORT_FUZZ_CHECK(
        absl::StartsWith(config.status().message(), "fuzz.textproto"))
        << config.status();
    return 0;
  }
  shmport::fuzz::CheckAccepted(*config);
  return 0;
}
