#include "server/config.h"

#include <fstream>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/segment_layout.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

namespace shmport::server {
namespace {

// Collects the first syntax error with its position.
class FirstError : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (error_.empty()) {
      // The parser counts from zero; editors count from one.
      error_ = absl::StrCat(line + 1, ":", column + 1, ": ", message);
    }
  }
  const std::string& error() const { return error_; }

 private:
  std::string error_;
};

bool IsPowerOfTwo(uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

// Sets a zero field to its default through the message's setter.
template <typename Message, typename Get, typename Set, typename T>
void Default(Message* m, Get get, Set set, T fallback) {
  if ((m->*get)() == 0) (m->*set)(fallback);
}

void FillConnectionDefaults(const config::v1::Limits& l,
                            config::v1::ConnectionLimits* c) {
  if (c->broker_pending_timeout_ms() == 0) {
    c->set_broker_pending_timeout_ms(kDefaultBrokerPendingTimeoutMs);
  }
  if (c->max_pending_broker_connections() == 0) {
    c->set_max_pending_broker_connections(kDefaultMaxPendingBrokerConnections);
  }
  if (c->max_pending_broker_connections_per_uid() == 0) {
    c->set_max_pending_broker_connections_per_uid(
        std::min(c->max_pending_broker_connections(),
                 kDefaultMaxPendingBrokerConnectionsPerUid));
  }
  if (c->max_control_connections() == 0) {
    c->set_max_control_connections(kDefaultMaxControlConnections);
  }
  if (c->max_control_connections_per_uid() == 0) {
    c->set_max_control_connections_per_uid(
        std::min(c->max_control_connections(),
                 l.max_processes() + kControlConnectionsHeadroom));
  }
}

void FillTopicDefaults(DaemonConfig* config) {
  using Limits = config::v1::Limits;
  auto* l = config->mutable_limits();
  Default(l, &Limits::max_topics, &Limits::set_max_topics, kDefaultMaxTopics);
  Default(l, &Limits::max_subscribers_per_topic,
          &Limits::set_max_subscribers_per_topic,
          kDefaultMaxSubscribersPerTopic);
  Default(l, &Limits::max_subscriptions_per_process,
          &Limits::set_max_subscriptions_per_process,
          kDefaultMaxSubscriptionsPerProcess);
  Default(l, &Limits::max_publications_per_process,
          &Limits::set_max_publications_per_process,
          kDefaultMaxPublicationsPerProcess);
  Default(l, &Limits::max_topic_history, &Limits::set_max_topic_history,
          kDefaultMaxTopicHistory);
  Default(l, &Limits::max_topic_queue_depth, &Limits::set_max_topic_queue_depth,
          kDefaultMaxTopicQueueDepth);
  Default(l, &Limits::max_bytes_per_topic, &Limits::set_max_bytes_per_topic,
          kDefaultMaxBytesPerTopic);
  auto* m = config->mutable_metrics();
  Default(m, &config::v1::Metrics::max_subscription_series,
          &config::v1::Metrics::set_max_subscription_series,
          kDefaultMaxSubscriptionSeries);
}

void FillDefaults(DaemonConfig* config) {
  FillTopicDefaults(config);
  if (config->attach_timeout_ms() == 0) {
    config->set_attach_timeout_ms(kDefaultAttachTimeoutMs);
  }
  if (config->watcher_queue_limit() == 0) {
    config->set_watcher_queue_limit(kDefaultWatcherQueueLimit);
  }
  Default(config, &DaemonConfig::watcher_queue_bytes,
          &DaemonConfig::set_watcher_queue_bytes, kDefaultWatcherQueueBytes);
  Default(config, &DaemonConfig::list_page_bytes,
          &DaemonConfig::set_list_page_bytes, kDefaultListPageBytes);
  if (config->metrics().max_port_series() == 0) {
    config->mutable_metrics()->set_max_port_series(kDefaultMaxPortSeries);
  }
  auto* l = config->mutable_limits();
  using Limits = config::v1::Limits;
  Default(l, &Limits::max_unattached_registrations,
          &Limits::set_max_unattached_registrations,
          kDefaultMaxUnattachedRegistrations);
  Default(l, &Limits::max_processes_per_uid, &Limits::set_max_processes_per_uid,
          kDefaultMaxProcessesPerUid);
  Default(l, &Limits::max_incoming_ports_per_process,
          &Limits::set_max_incoming_ports_per_process,
          kDefaultMaxIncomingPortsPerProcess);
  Default(l, &Limits::max_ports_per_pair, &Limits::set_max_ports_per_pair,
          kDefaultMaxPortsPerPair);
  Default(l, &Limits::max_watchers, &Limits::set_max_watchers,
          kDefaultMaxWatchers);
  Default(l, &Limits::max_watchers_per_uid, &Limits::set_max_watchers_per_uid,
          kDefaultMaxWatchersPerUid);
  if (l->max_processes() == 0) l->set_max_processes(kDefaultMaxProcesses);
  if (l->max_ports_per_process() == 0) {
    l->set_max_ports_per_process(kDefaultMaxPortsPerProcess);
  }
  if (l->max_ports() == 0) l->set_max_ports(kDefaultMaxPorts);
  if (l->max_segments_per_port() == 0) {
    l->set_max_segments_per_port(kDefaultMaxSegmentsPerPort);
  }
  if (l->max_bytes_per_port() == 0) {
    l->set_max_bytes_per_port(kDefaultMaxBytesPerPort);
  }
  if (l->registrations_per_second() == 0) {
    l->set_registrations_per_second(kDefaultRegistrationsPerSecond);
  }
  if (l->registration_burst() == 0) {
    l->set_registration_burst(kDefaultRegistrationBurst);
  }
  if (l->max_chunk_size() == 0) l->set_max_chunk_size(layout::kMaxChunkSize);
  if (l->max_chunk_count() == 0) l->set_max_chunk_count(layout::kMaxChunks);
  auto* g = l->mutable_default_geometry();
  FillConnectionDefaults(*l, config->mutable_connections());
  if (g->chunk_size() == 0) g->set_chunk_size(kDefaultChunkSize);
  if (g->chunk_count() == 0) g->set_chunk_count(kDefaultChunkCount);
  if (g->max_segments() == 0) {
    g->set_max_segments(
        std::min(kDefaultMaxSegmentsPerPort, l->max_segments_per_port()));
  }
  if (g->inline_threshold() == 0) {
    g->set_inline_threshold(kDefaultInlineThreshold);
  }
}

absl::Status OutOfRange(absl::string_view origin, absl::string_view field,
                        uint64_t value, absl::string_view allowed) {
  return absl::InvalidArgumentError(absl::StrCat(
      origin, ": ", field, " = ", value, " is invalid: ", allowed));
}

absl::Status ValidateConnections(const config::v1::ConnectionLimits& c,
                                 absl::string_view origin) {
  if (c.max_pending_broker_connections_per_uid() >
      c.max_pending_broker_connections()) {
    return OutOfRange(origin,
                      "connections.max_pending_broker_connections_per_uid",
                      c.max_pending_broker_connections_per_uid(),
                      absl::StrCat("exceeds "
                                   "connections.max_pending_broker_connections"
                                   " = ",
                                   c.max_pending_broker_connections()));
  }
  if (c.max_control_connections_per_uid() > c.max_control_connections()) {
    return OutOfRange(
        origin, "connections.max_control_connections_per_uid",
        c.max_control_connections_per_uid(),
        absl::StrCat("exceeds connections.max_control_connections = ",
                     c.max_control_connections()));
  }
  return absl::OkStatus();
}

// The chunk bounds, and the default geometry within them.
absl::Status ValidateGeometryLimits(const config::v1::Limits& l,
                                    absl::string_view origin) {
  if (!IsPowerOfTwo(l.max_chunk_size()) ||
      l.max_chunk_size() < layout::kMinChunkSize ||
      l.max_chunk_size() > layout::kMaxChunkSize) {
    return OutOfRange(
        origin, "limits.max_chunk_size", l.max_chunk_size(),
        absl::StrCat("must be a power of two in [", layout::kMinChunkSize, ", ",
                     layout::kMaxChunkSize, "]"));
  }
  if (l.max_chunk_count() > layout::kMaxChunks) {
    return OutOfRange(origin, "limits.max_chunk_count", l.max_chunk_count(),
                      absl::StrCat("must be in [1, ", layout::kMaxChunks, "]"));
  }
  const auto& g = l.default_geometry();
  if (!IsPowerOfTwo(g.chunk_size()) || g.chunk_size() < layout::kMinChunkSize ||
      g.chunk_size() > l.max_chunk_size()) {
    return OutOfRange(
        origin, "limits.default_geometry.chunk_size", g.chunk_size(),
        absl::StrCat("must be a power of two in [", layout::kMinChunkSize, ", ",
                     l.max_chunk_size(), "]"));
  }
  if (g.chunk_count() > l.max_chunk_count()) {
    return OutOfRange(origin, "limits.default_geometry.chunk_count",
                      g.chunk_count(),
                      absl::StrCat("must be in [1, ", l.max_chunk_count(),
                                   "] (limits.max_chunk_count)"));
  }
  if (static_cast<uint64_t>(g.chunk_size()) * g.chunk_count() >
      layout::kMaxSegmentDataBytes) {
    return OutOfRange(origin,
                      "limits.default_geometry chunk_size x chunk_count",
                      static_cast<uint64_t>(g.chunk_size()) * g.chunk_count(),
                      absl::StrCat("a segment holds at most ",
                                   layout::kMaxSegmentDataBytes, " bytes"));
  }
  if (g.max_segments() > l.max_segments_per_port()) {
    return OutOfRange(origin, "limits.default_geometry.max_segments",
                      g.max_segments(),
                      absl::StrCat("must be in [1, ", l.max_segments_per_port(),
                                   "] (limits.max_segments_per_port)"));
  }
  if (g.inline_threshold() > kMaxInlineThreshold) {
    return OutOfRange(origin, "limits.default_geometry.inline_threshold",
                      g.inline_threshold(),
                      absl::StrCat("must be at most ", kMaxInlineThreshold));
  }
  return absl::OkStatus();
}

// The per-port byte cap (room for the smallest port and for a default
// one) and the port counts.
absl::Status ValidatePortCaps(const config::v1::Limits& l,
                              absl::string_view origin) {
  const auto& g = l.default_geometry();
  // The smallest port (one minimal segment each way) must fit the byte cap,
  // or no port could ever open.
  const uint64_t smallest = 2 * (layout::kHeaderSize + layout::kMinChunkSize);
  if (l.max_bytes_per_port() < smallest) {
    return OutOfRange(origin, "limits.max_bytes_per_port",
                      l.max_bytes_per_port(),
                      absl::StrCat("must be at least ", smallest,
                                   " (one minimal segment each way)"));
  }
  // Nor could a port of the default geometry: one segment of one default
  // chunk each way must fit.
  const uint64_t one_default_chunk =
      2 * (layout::kHeaderSize + uint64_t{g.chunk_size()});
  if (l.max_bytes_per_port() < one_default_chunk) {
    return OutOfRange(
        origin, "limits.max_bytes_per_port", l.max_bytes_per_port(),
        absl::StrCat("must be at least ", one_default_chunk,
                     " (one segment of one default_geometry.chunk_size chunk "
                     "each way)"));
  }
  if (l.max_ports_per_process() > l.max_ports()) {
    return OutOfRange(
        origin, "limits.max_ports_per_process", l.max_ports_per_process(),
        absl::StrCat("exceeds limits.max_ports = ", l.max_ports()));
  }
  return absl::OkStatus();
}

// Rules that could never match as written.
absl::Status ValidatePolicy(const config::v1::Policy& policy,
                            absl::string_view origin) {
  for (int i = 0; i < policy.name_rules_size(); ++i) {
    if (policy.name_rules(i).name_patterns_size() == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(origin, ": policy.name_rules[", i, "] (uid ",
                       policy.name_rules(i).uid(),
                       ") has no name_patterns: it would forbid every name"));
    }
  }
  for (int i = 0; i < policy.port_rules_size(); ++i) {
    const auto& rule = policy.port_rules(i);
    if (rule.from().empty() || rule.to().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(origin, ": policy.port_rules[", i,
                       "] needs both `from` and `to` patterns (use \"*\")"));
    }
  }
  return absl::OkStatus();
}

// The first problem, in the order the checks are written.
absl::Status Validate(const DaemonConfig& c, absl::string_view origin) {
  if (c.list_page_bytes() < kMinListPageBytes ||
      c.list_page_bytes() > kMaxListPageBytes) {
    return OutOfRange(origin, "list_page_bytes", c.list_page_bytes(),
                      absl::StrCat("must be in [", kMinListPageBytes, ", ",
                                   kMaxListPageBytes, "]"));
  }
  if (absl::Status s = ValidateGeometryLimits(c.limits(), origin); !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidatePortCaps(c.limits(), origin); !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateConnections(c.connections(), origin); !s.ok()) {
    return s;
  }
  return ValidatePolicy(c.policy(), origin);
}

}  // namespace

absl::StatusOr<DaemonConfig> ParseDaemonConfig(absl::string_view text,
                                               absl::string_view origin) {
  DaemonConfig config;
  google::protobuf::TextFormat::Parser parser;
  FirstError errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &config)) {
    return absl::InvalidArgumentError(absl::StrCat(
        origin, ":", errors.error().empty() ? " parse error" : errors.error()));
  }
  FillDefaults(&config);
  if (absl::Status s = Validate(config, origin); !s.ok()) return s;
  return config;
}

absl::StatusOr<DaemonConfig> LoadDaemonConfig(absl::string_view path) {
  if (path.empty()) return ParseDaemonConfig("", "built-in defaults");
  std::ifstream in{std::string(path)};
  if (!in) {
    return ErrnoToStatus(errno, absl::StrCat("cannot read config ", path));
  }
  std::stringstream text;
  text << in.rdbuf();
  return ParseDaemonConfig(text.str(), path);
}

}  // namespace shmport::server
