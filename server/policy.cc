#include "server/policy.h"

#include <fnmatch.h>

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/segment_layout.h"

namespace shmport::server {

bool MatchesPattern(absl::string_view pattern, absl::string_view name) {
  return ::fnmatch(std::string(pattern).c_str(), std::string(name).c_str(),
                   0) == 0;
}

Policy::Policy(const DaemonConfig& config, uid_t daemon_uid)
    : policy_(config.policy()),
      limits_(config.limits()),
      daemon_uid_(daemon_uid) {}

absl::Status Policy::MayAttach(const Credentials& peer,
                               absl::string_view name) const {
  bool allowed = policy_.allow_any_uid();
  if (policy_.allowed_uids().empty() && policy_.allowed_gids().empty()) {
    allowed = allowed || peer.uid == daemon_uid_;
  }
  for (uint32_t uid : policy_.allowed_uids()) allowed |= peer.uid == uid;
  for (uint32_t gid : policy_.allowed_gids()) allowed |= peer.gid == gid;
  if (!allowed) {
    return absl::PermissionDeniedError(absl::StrCat(
        "uid ", peer.uid, " (gid ", peer.gid,
        ") may not register with this daemon (policy.allowed_uids / "
        "allowed_gids; the default admits only uid ",
        daemon_uid_, ")"));
  }
  return MayClaim(peer.uid, name);
}

absl::Status Policy::MayClaim(uid_t uid, absl::string_view name) const {
  bool has_rule = false;
  for (const auto& rule : policy_.name_rules()) {
    if (rule.uid() != uid) continue;
    has_rule = true;
    for (const std::string& pattern : rule.name_patterns()) {
      if (MatchesPattern(pattern, name)) return absl::OkStatus();
    }
  }
  if (has_rule) {
    std::vector<std::string> patterns;
    for (const auto& rule : policy_.name_rules()) {
      if (rule.uid() != uid) continue;
      patterns.insert(patterns.end(), rule.name_patterns().begin(),
                      rule.name_patterns().end());
    }
    return absl::PermissionDeniedError(absl::StrCat(
        "uid ", uid, " may not claim the name '", name,
        "' (policy.name_rules allow it: ", absl::StrJoin(patterns, ", "), ")"));
  }
  return absl::OkStatus();
}

absl::Status Policy::MayOpen(absl::string_view from,
                             absl::string_view to) const {
  if (policy_.port_rules().empty()) return absl::OkStatus();
  for (int i = 0; i < policy_.port_rules_size(); ++i) {
    const auto& rule = policy_.port_rules(i);
    if (!MatchesPattern(rule.from(), from) || !MatchesPattern(rule.to(), to)) {
      continue;
    }
    if (!rule.deny()) return absl::OkStatus();
    return absl::PermissionDeniedError(
        absl::StrCat("policy denies ports from '", from, "' to '", to,
                     "' (policy.port_rules[", i, "]: from \"", rule.from(),
                     "\" to \"", rule.to(), "\" deny)"));
  }
  return absl::PermissionDeniedError(
      absl::StrCat("policy does not allow ports from '", from, "' to '", to,
                   "' (no policy.port_rules entry matches)"));
}

absl::Status Policy::MayPublish(absl::string_view process,
                                absl::string_view topic) const {
  return MayUseTopic(process, topic, /*publish=*/true);
}

absl::Status Policy::MaySubscribe(absl::string_view process,
                                  absl::string_view topic) const {
  return MayUseTopic(process, topic, /*publish=*/false);
}

absl::Status Policy::MayUseTopic(absl::string_view process,
                                 absl::string_view topic, bool publish) const {
  if (policy_.topic_rules().empty()) return absl::OkStatus();
  using Rule = config::v1::TopicRule;
  const absl::string_view verb = publish ? "publish" : "subscribe";
  for (int i = 0; i < policy_.topic_rules_size(); ++i) {
    const Rule& rule = policy_.topic_rules(i);
    const bool covers =
        rule.action() == Rule::PUBLISH_AND_SUBSCRIBE ||
        rule.action() == (publish ? Rule::PUBLISH : Rule::SUBSCRIBE);
    if (!covers || !MatchesPattern(rule.topic(), topic) ||
        !MatchesPattern(rule.process(), process)) {
      continue;
    }
    if (!rule.deny()) return absl::OkStatus();
    return absl::PermissionDeniedError(absl::StrCat(
        "policy denies process '", process, "' to ", verb, " topic '", topic,
        "' (policy.topic_rules[", i, "]: topic \"", rule.topic(),
        "\" process \"", rule.process(), "\" ",
        Rule::Action_Name(rule.action()), " deny)"));
  }
  return absl::PermissionDeniedError(absl::StrCat(
      "policy does not allow process '", process, "' to ", verb, " topic '",
      topic, "' (no policy.topic_rules entry matches)"));
}

absl::StatusOr<v1::Geometry> Policy::Grant(
    const v1::Geometry& requested) const {
  const v1::Geometry& def = limits_.default_geometry();
  v1::Geometry g;
  uint32_t chunk_size = requested.chunk_size();
  if (chunk_size == 0) {
    chunk_size = def.chunk_size();
  } else if ((chunk_size & (chunk_size - 1)) != 0 ||
             chunk_size < layout::kMinChunkSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("geometry.chunk_size ", chunk_size,
                     " must be a power of two >= ", layout::kMinChunkSize));
  }
  chunk_size = std::min(chunk_size, limits_.max_chunk_size());

  uint64_t chunk_count = requested.chunk_count() == 0 ? def.chunk_count()
                                                      : requested.chunk_count();
  chunk_count = std::min<uint64_t>(chunk_count, limits_.max_chunk_count());
  chunk_count = std::min<uint64_t>(chunk_count,
                                   layout::kMaxSegmentDataBytes / chunk_size);

  uint64_t segments = requested.max_segments() == 0 ? def.max_segments()
                                                    : requested.max_segments();
  segments = std::min<uint64_t>(segments, limits_.max_segments_per_port());

  // Both directions may grow to `segments` segments of header + data each.
  const uint64_t per_direction = limits_.max_bytes_per_port() / 2;
  auto segment_bytes = [&] {
    return layout::kHeaderSize + chunk_size * chunk_count;
  };
  if (segments * segment_bytes() > per_direction) {
    segments = std::max<uint64_t>(1, per_direction / segment_bytes());
  }
  if (segment_bytes() > per_direction) {
    // Even one segment is too big: shrink it. Validation guarantees room
    // for one chunk of the minimum size, but not of this chunk size.
    if (per_direction < layout::kHeaderSize + chunk_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "geometry.chunk_size ", chunk_size,
          " does not fit limits.max_bytes_per_port = ",
          limits_.max_bytes_per_port(), " (both directions together)"));
    }
    chunk_count = (per_direction - layout::kHeaderSize) / chunk_size;
  }
  g.set_chunk_size(chunk_size);
  g.set_chunk_count(static_cast<uint32_t>(std::max<uint64_t>(1, chunk_count)));
  g.set_max_segments(static_cast<uint32_t>(segments));
  uint32_t inline_threshold = requested.inline_threshold() == 0
                                  ? def.inline_threshold()
                                  : requested.inline_threshold();
  g.set_inline_threshold(std::min(inline_threshold, kMaxInlineThreshold));
  return g;
}

v1::ProcessLimits Policy::ProcessLimits() const {
  v1::ProcessLimits out;
  out.set_max_ports(limits_.max_ports_per_process());
  *out.mutable_default_geometry() = limits_.default_geometry();
  v1::Geometry* max = out.mutable_max_geometry();
  max->set_chunk_size(limits_.max_chunk_size());
  max->set_chunk_count(limits_.max_chunk_count());
  max->set_max_segments(limits_.max_segments_per_port());
  max->set_inline_threshold(kMaxInlineThreshold);
  out.set_max_bytes_per_port(limits_.max_bytes_per_port());
  return out;
}

}  // namespace shmport::server
