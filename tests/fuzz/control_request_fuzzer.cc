// Fuzz target: the checks shmportd applies to the fields of control-plane
// requests before anything else sees them (server/validation.h for names,
// labels and versions; Policy::Grant for a requested geometry).
//
// The input's first byte picks what the rest is: a serialized
// RegisterRequest, a serialized OpenPortRequest, or raw text for Quote.
// Each check must agree exactly with an independent statement of its rule;
// a refusal is INVALID_ARGUMENT whose message names the field and holds only
// printable characters (it goes to logs and terminals); a granted geometry
// lies inside every limit of the default configuration.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "common/segment_layout.h"
#include "google/protobuf/stubs/logging.h"
#include "proto/shmport/v1/control.pb.h"
#include "server/config.h"
#include "server/policy.h"
#include "server/validation.h"
#include "tests/fuzz/fuzz_check.h"

namespace shmport::fuzz {
namespace {

bool AllPrintable(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isprint(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool NameChar(char c, bool slash_too) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
         c == '_' || c == '-' || (slash_too && c == '/');
}

// The rules as docs/control-plane.md states them.
bool NameIsValid(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  if (!absl::ascii_isalnum(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!NameChar(c, false)) return false;
  }
  return true;
}

bool LabelsAreValid(const google::protobuf::Map<std::string, std::string>& m) {
  if (m.size() > 32) return false;
  for (const auto& [key, value] : m) {
    if (key.empty() || key.size() > 63) return false;
    for (char c : key) {
      if (!NameChar(c, true)) return false;
    }
    if (value.size() > 255 || !AllPrintable(value)) return false;
  }
  return true;
}

void CheckRefusal(const absl::Status& s, absl::string_view field) {
  SHMPORT_FUZZ_CHECK(absl::IsInvalidArgument(s)) << s;
  SHMPORT_FUZZ_CHECK(absl::StrContains(s.message(), field)) << s;
  SHMPORT_FUZZ_CHECK(AllPrintable(s.message())) << "unprintable: " << s;
}

void CheckName(absl::string_view field, absl::string_view name) {
  const absl::Status s = server::ValidateName(field, name);
  SHMPORT_FUZZ_CHECK(s.ok() == NameIsValid(name)) << s;
  if (!s.ok()) CheckRefusal(s, field);
}

void CheckRegister(const v1::RegisterRequest& r) {
  CheckName("name", r.name());
  const absl::Status labels = server::ValidateLabels(r.labels());
  SHMPORT_FUZZ_CHECK(labels.ok() == LabelsAreValid(r.labels())) << labels;
  if (!labels.ok()) CheckRefusal(labels, "label");
  const absl::Status version = server::ValidateVersion(r.version());
  SHMPORT_FUZZ_CHECK(version.ok() ==
                     (r.version().size() <= 64 && AllPrintable(r.version())))
      << version;
  if (!version.ok()) CheckRefusal(version, "version");
}

const server::Policy& DefaultPolicy() {
  static const server::Policy* policy = [] {
    auto config = server::ParseDaemonConfig("", "defaults");
    SHMPORT_FUZZ_CHECK(config.ok()) << config.status();
    return new server::Policy(*config, /*daemon_uid=*/1000);
  }();
  return *policy;
}

void CheckOpenPort(const v1::OpenPortRequest& r) {
  if (r.to().has_name()) CheckName("to.name", r.to().name());
  if (r.from().has_name()) CheckName("from.name", r.from().name());
  auto g = DefaultPolicy().Grant(r.geometry());
  if (!g.ok()) {
    CheckRefusal(g.status(), "geometry");
    return;
  }
  const uint32_t size = g->chunk_size();
  SHMPORT_FUZZ_CHECK(size >= layout::kMinChunkSize &&
                     size <= layout::kMaxChunkSize && (size & (size - 1)) == 0)
      << "chunk_size " << size;
  SHMPORT_FUZZ_CHECK(g->chunk_count() >= 1 &&
                     g->chunk_count() <= layout::kMaxChunks)
      << "chunk_count " << g->chunk_count();
  const uint64_t segment =
      layout::kHeaderSize + uint64_t{size} * g->chunk_count();
  SHMPORT_FUZZ_CHECK(uint64_t{size} * g->chunk_count() <=
                     layout::kMaxSegmentDataBytes);
  SHMPORT_FUZZ_CHECK(g->max_segments() >= 1 &&
                     g->max_segments() <= server::kDefaultMaxSegmentsPerPort)
      << "max_segments " << g->max_segments();
  SHMPORT_FUZZ_CHECK(2 * g->max_segments() * segment <=
                     server::kDefaultMaxBytesPerPort)
      << g->ShortDebugString();
  SHMPORT_FUZZ_CHECK(g->inline_threshold() <= server::kMaxInlineThreshold);
}

void CheckQuote(absl::string_view text) {
  const std::string q = server::Quote(text);
  SHMPORT_FUZZ_CHECK(q.size() >= 2 && q.front() == '"' && q.back() == '"');
  SHMPORT_FUZZ_CHECK(q.size() <= 2 + 80 + 3) << q.size();
  SHMPORT_FUZZ_CHECK(AllPrintable(q));
  SHMPORT_FUZZ_CHECK(q.substr(1, q.size() - 2).find('"') == std::string::npos);
  const std::string forwarded =
      server::Quote(text, server::kMaxForwardedReason);
  SHMPORT_FUZZ_CHECK(forwarded.size() <= 2 + server::kMaxForwardedReason + 3);
  SHMPORT_FUZZ_CHECK(AllPrintable(forwarded));
}

}  // namespace
}  // namespace shmport::fuzz

// Proto3 strings that are not UTF-8 fail to parse, and protobuf logs each
// one: quiet, so that the fuzzer spends its time on inputs, not stderr.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t kind = data[0] % 3;
  const void* rest = data + 1;
  const int rest_size = static_cast<int>(size - 1);
  if (kind == 0) {
    shmport::v1::RegisterRequest r;
    if (r.ParseFromArray(rest, rest_size)) shmport::fuzz::CheckRegister(r);
  } else if (kind == 1) {
    shmport::v1::OpenPortRequest r;
    if (r.ParseFromArray(rest, rest_size)) shmport::fuzz::CheckOpenPort(r);
  } else {
    shmport::fuzz::CheckQuote(absl::string_view(
        reinterpret_cast<const char*>(rest), static_cast<size_t>(rest_size)));
  }
  return 0;
}
