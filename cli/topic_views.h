// `shmportctl topics`: the daemon's topics as a table (one row per
// subscriber, with the publisher's counters for its subscription) and as
// JSON. Pure functions of ListTopicsResponse, for the unit tests.
#ifndef SHMPORT_CLI_TOPIC_VIEWS_H_
#define SHMPORT_CLI_TOPIC_VIEWS_H_

#include <string>

#include "cli/json.h"
#include "shmport/v1/control.pb.h"

namespace shmport::cli {

// TOPIC PUBLISHER SUBSCRIBER SUB MODE LAG DELIVERED DROPPED HELD: one row
// per subscriber ("-" in SUB while it waits for a publisher, and in the
// counters until the publisher reports), one row for a topic without any.
std::string TopicTable(const v1::ListTopicsResponse& topics);

// {"topics": [{"name", "publisher": {...} | null, "subscribers": [{...,
// "subscription_id", "mode", "queue_depth", "history", "lag",
// "samples_delivered", "samples_released", "samples_dropped",
// "held_chunks", "held_bytes", "updated_at_unix_ms"}]}]}
Json TopicsJson(const v1::ListTopicsResponse& topics);

}  // namespace shmport::cli

#endif  // SHMPORT_CLI_TOPIC_VIEWS_H_
