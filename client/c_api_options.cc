#include "client/c_api_options.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "client/c_api_errors.h"

namespace shmport::c_api {
namespace {

// The first version of each struct: what a caller's struct_size must at
// least cover.
constexpr size_t kPortOptionsV1 = sizeof(shmport_port_options);
constexpr size_t kSessionOptionsV1 = sizeof(shmport_session_options);
constexpr size_t kOpenPortOptionsV1 = sizeof(shmport_open_port_options);

absl::Status ReadLabels(const shmport_session_options& c,
                        SessionOptions& options) {
  if (c.label_count > 0 && c.labels == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "shmport_session_options: labels is NULL but label_count is ",
        c.label_count));
  }
  for (size_t i = 0; i < c.label_count; ++i) {
    if (c.labels[i].key == nullptr || c.labels[i].value == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "shmport_session_options: labels[", i, "] has a NULL key or value"));
    }
    options.labels[c.labels[i].key] = c.labels[i].value;
  }
  return absl::OkStatus();
}

}  // namespace

int64_t ToMs(absl::Duration d) {
  if (d == absl::InfiniteDuration()) return SHMPORT_INFINITE;
  return absl::ToInt64Milliseconds(d);
}

int64_t ToNs(absl::Duration d) {
  if (d == absl::InfiniteDuration()) return SHMPORT_INFINITE;
  return absl::ToInt64Nanoseconds(d);
}

absl::Status SetDuration(int64_t value, absl::Duration unit,
                         absl::string_view field, absl::Duration* out) {
  absl::StatusOr<absl::Duration> d = ToDuration(value, unit, field);
  if (!d.ok()) return d.status();
  *out = *d;
  return absl::OkStatus();
}

absl::StatusOr<absl::Duration> ToDuration(int64_t value, absl::Duration unit,
                                          absl::string_view field) {
  if (value == SHMPORT_INFINITE) return absl::InfiniteDuration();
  if (value < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " is ", value,
                     ": durations are >= 0, or SHMPORT_INFINITE (-1)"));
  }
  return unit * value;
}

absl::Status ReadStruct(const void* given, size_t struct_size, void* into,
                        size_t size, size_t min_size, absl::string_view what) {
  if (struct_size < min_size) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": struct_size ", struct_size,
                     " is smaller than the first version's ", min_size,
                     " (call ", what, "_init first)"));
  }
  if (struct_size > kMaxStructSize) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": struct_size ", struct_size, " is more than ",
                     kMaxStructSize, " (call ", what, "_init first)"));
  }
  const auto* bytes = static_cast<const unsigned char*>(given);
  for (size_t i = size; i < struct_size; ++i) {
    if (bytes[i] != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": byte ", i, " of ", struct_size,
                       " is set, but this library (", SHMPORT_VERSION_STRING,
                       ") knows only ", size, " bytes of it"));
    }
  }
  std::memcpy(into, given, std::min(size, struct_size));
  return absl::OkStatus();
}

absl::Status WriteStructBytes(const void* full, void* out, size_t size,
                              absl::string_view what) {
  size_t struct_size = 0;
  std::memcpy(&struct_size, out, sizeof(struct_size));
  if (struct_size < sizeof(size_t)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": struct_size ", struct_size,
                     " is too small; set it to sizeof(", what, ")"));
  }
  const size_t n = std::min(size, struct_size);
  std::memcpy(static_cast<unsigned char*>(out) + sizeof(size_t),
              static_cast<const unsigned char*>(full) + sizeof(size_t),
              n - sizeof(size_t));
  return absl::OkStatus();
}

absl::StatusOr<PortOptions> ToPortOptions(const shmport_port_options* given) {
  PortOptions o;
  if (given == nullptr) return o;
  shmport_port_options c;
  if (absl::Status s = ReadOptions(*given, shmport_port_options_init,
                                   kPortOptionsV1, "shmport_port_options", c);
      !s.ok()) {
    return s;
  }
  o.geometry = {.chunk_size = c.chunk_size, .chunk_count = c.chunk_count};
  o.max_segments = c.max_segments;
  o.inline_threshold = c.inline_threshold;
  o.max_peer_segments = c.max_peer_segments;
  o.max_peer_bytes = c.max_peer_bytes;
  o.ring_capacity = c.ring_capacity;
  const absl::Duration ms = absl::Milliseconds(1);
  const absl::Duration ns = absl::Nanoseconds(1);
  for (absl::Status s : {
           SetDuration(c.hello_timeout_ms, ms, "hello_timeout_ms",
                       &o.hello_timeout),
           SetDuration(c.send_timeout_ms, ms, "send_timeout_ms",
                       &o.send_timeout),
           SetDuration(c.allocate_timeout_ms, ms, "allocate_timeout_ms",
                       &o.allocate_timeout),
           SetDuration(c.idle_segment_timeout_ms, ms, "idle_segment_timeout_ms",
                       &o.idle_segment_timeout),
           SetDuration(c.receive_spin_ns, ns, "receive_spin_ns",
                       &o.receive_spin),
           SetDuration(c.adaptive_spin_ns, ns, "adaptive_spin_ns",
                       &o.adaptive_spin),
       }) {
    if (!s.ok()) return s;
  }
  return o;
}

absl::StatusOr<SessionOptions> ToSessionOptions(
    const shmport_session_options& given) {
  shmport_session_options c;
  if (absl::Status s =
          ReadOptions(given, shmport_session_options_init, kSessionOptionsV1,
                      "shmport_session_options", c);
      !s.ok()) {
    return s;
  }
  if (c.name == nullptr) {
    return absl::InvalidArgumentError("shmport_session_options: name is NULL");
  }
  SessionOptions o;
  o.name = c.name;
  if (c.address != nullptr) o.address = c.address;
  if (absl::Status s = ReadLabels(c, o); !s.ok()) return s;
  const absl::Duration ms = absl::Milliseconds(1);
  for (absl::Status s : {
           SetDuration(c.rpc_timeout_ms, ms, "rpc_timeout_ms", &o.rpc_timeout),
           SetDuration(c.attach_timeout_ms, ms, "attach_timeout_ms",
                       &o.attach_timeout),
           SetDuration(c.stats_interval_ms, ms, "stats_interval_ms",
                       &o.stats_interval),
       }) {
    if (!s.ok()) return s;
  }
  absl::StatusOr<PortOptions> port = ToPortOptions(c.port_options);
  if (!port.ok()) return port.status();
  o.port_options = *port;
  if (c.on_port_closed != nullptr) {
    o.on_port_closed = [fn = c.on_port_closed,
                        context = c.on_port_closed_context](
                           uint64_t port_id, absl::string_view reason) {
      const std::string text(reason);
      fn(context, port_id, text.c_str());
    };
  }
  return o;
}

absl::StatusOr<OpenPortOptions> ToOpenPortOptions(
    const shmport_open_port_options* given) {
  OpenPortOptions o;
  if (given == nullptr) return o;
  shmport_open_port_options c;
  if (absl::Status s =
          ReadOptions(*given, shmport_open_port_options_init,
                      kOpenPortOptionsV1, "shmport_open_port_options", c);
      !s.ok()) {
    return s;
  }
  o.chunk_size = c.chunk_size;
  o.chunk_count = c.chunk_count;
  o.max_segments = c.max_segments;
  o.inline_threshold = c.inline_threshold;
  if (absl::Status s = SetDuration(c.wait_for_peer_ms, absl::Milliseconds(1),
                                   "wait_for_peer_ms", &o.wait_for_peer);
      !s.ok()) {
    return s;
  }
  return o;
}

shmport_port_stats ToCStats(const PortStats& s) {
  shmport_port_stats c = {};
  c.struct_size = sizeof(c);
  c.messages_sent = s.messages_sent;
  c.bytes_sent = s.bytes_sent;
  c.messages_received = s.messages_received;
  c.bytes_received = s.bytes_received;
  c.segments_out = s.segments_out;
  c.segments_in = s.segments_in;
  c.chunks_in_use = s.chunks_in_use;
  c.tracking_in_flight = s.tracking_in_flight;
  c.oosm_waits = s.oosm_waits;
  c.protocol_errors = s.protocol_errors;
  c.cancels_won = s.cancels_won;
  c.cancels_lost = s.cancels_lost;
  c.cancelled_dropped = s.cancelled_dropped;
  c.sent_via_ring = s.sent_via_ring;
  c.ring_fallbacks = s.ring_fallbacks;
  c.receive_spins = s.receive_spins;
  c.receive_spin_hits = s.receive_spin_hits;
  c.closed = s.closed ? 1 : 0;
  return c;
}

}  // namespace shmport::c_api

extern "C" {

shmport_status shmport_port_options_init(shmport_port_options* options) {
  SHMPORT_C_REQUIRE(options);
  const shmport::PortOptions d;
  *options = {};
  options->struct_size = sizeof(*options);
  options->chunk_size = d.geometry.chunk_size;
  options->chunk_count = d.geometry.chunk_count;
  options->max_segments = d.max_segments;
  options->inline_threshold = d.inline_threshold;
  options->max_peer_segments = d.max_peer_segments;
  options->max_peer_bytes = d.max_peer_bytes;
  options->hello_timeout_ms = shmport::c_api::ToMs(d.hello_timeout);
  options->send_timeout_ms = shmport::c_api::ToMs(d.send_timeout);
  options->allocate_timeout_ms = shmport::c_api::ToMs(d.allocate_timeout);
  options->idle_segment_timeout_ms =
      shmport::c_api::ToMs(d.idle_segment_timeout);
  options->ring_capacity = d.ring_capacity;
  options->receive_spin_ns = shmport::c_api::ToNs(d.receive_spin);
  options->adaptive_spin_ns = shmport::c_api::ToNs(d.adaptive_spin);
  return SHMPORT_OK;
}

shmport_status shmport_session_options_init(shmport_session_options* options) {
  SHMPORT_C_REQUIRE(options);
  const shmport::SessionOptions d;
  *options = {};
  options->struct_size = sizeof(*options);
  options->rpc_timeout_ms = shmport::c_api::ToMs(d.rpc_timeout);
  options->attach_timeout_ms = shmport::c_api::ToMs(d.attach_timeout);
  options->stats_interval_ms = shmport::c_api::ToMs(d.stats_interval);
  return SHMPORT_OK;
}

shmport_status shmport_open_port_options_init(
    shmport_open_port_options* options) {
  SHMPORT_C_REQUIRE(options);
  const shmport::OpenPortOptions d;
  *options = {};
  options->struct_size = sizeof(*options);
  options->chunk_size = d.chunk_size;
  options->chunk_count = d.chunk_count;
  options->max_segments = d.max_segments;
  options->inline_threshold = d.inline_threshold;
  options->wait_for_peer_ms = shmport::c_api::ToMs(d.wait_for_peer);
  return SHMPORT_OK;
}

}  // extern "C"
