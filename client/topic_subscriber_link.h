// SubscriberLink: a subscriber's end of one subscription (one publisher it
// met). Samples keep it alive to send their releases; the receive side's
// view of the publisher (its HELLO, the segments it announced) lives here
// too and is touched only by the SubscriberCore's receiving thread.
#ifndef SHMPORT_CLIENT_TOPIC_SUBSCRIBER_LINK_H_
#define SHMPORT_CLIENT_TOPIC_SUBSCRIBER_LINK_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "client/topic_segment.h"
#include "client/topic_wire.h"
#include "common/mutex.h"
#include "common/unix_channel.h"

namespace shmport::internal {

class SubscriberLink {
 public:
  SubscriberLink(uint64_t subscription_id, UnixChannel channel)
      : subscription_id_(subscription_id), channel_(std::move(channel)) {}

  uint64_t subscription_id() const { return subscription_id_; }
  UnixChannel& channel() { return channel_; }

  // Gives sample `sequence` (`shared_bytes` of the publisher's pool, 0
  // inline) back to the publisher. Any thread. While messages wait unread,
  // in this subscription's socket or in a BATCH in hand (the receiving
  // thread will be back for them), releases are gathered, up to
  // `release_batch` samples and an eighth of the publisher's pool;
  // otherwise sent at once, with any gathered (decision D31). A publisher whose
  // socket is full gets them with the next release; after Close(), nothing is
  // sent (the publisher dropped every hold at our EOF).
  void Release(uint64_t sequence, uint64_t shared_bytes);
  // The receiving thread found the socket empty: sends what was gathered,
  // so no release waits on messages that are not there, and with
  // `owe_waiting` (samples came since the last WAITING) tells a publisher
  // that takes it that we wait (WAITING, with those releases). False when
  // a full socket kept the WAITING back: call again soon.
  bool Drained(bool owe_waiting);
  // The receiving thread hands out a Sample; `more_in_hand`: messages of
  // its BATCH are left. With none left and the socket empty, what was
  // gathered goes now (the caller may keep this Sample and read no more).
  void HandedOut(bool more_in_hand);
  // From the publisher's HELLO: releases per RELEASE while gathering (from
  // its window), bytes of its pool (the most it may have in segments), and
  // whether it takes WAITING.
  void OnPublisherHello(uint32_t release_batch, uint64_t pool_bytes,
                        bool takes_waiting);
  // Shuts the socket down: the publisher sees EOF and drops our holds.
  void Close();

  // --- The receiving thread's view of the publisher. ---
  std::optional<topic_wire::TopicHello> hello;
  std::vector<std::shared_ptr<TopicSegment>> segments;  // by segment id
  uint64_t mapped_bytes = 0;
  uint64_t last_sequence = 0;
  bool samples_since_waiting = false;  // a WAITING is owed at the next drain

 private:
  const uint64_t subscription_id_;
  UnixChannel channel_;
  Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  // Sends unsent_ (kMaxReleases to a message) as far as the socket takes;
  // with `waiting`, the last message (maybe with none) is a WAITING.
  // False when the socket was full.
  bool SendUnsent(bool waiting = false) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether the socket holds messages the receiving thread has not read.
  bool UnreadMessages() const;

  // Releases gathered, or refused by a full socket, sent with later ones.
  std::vector<uint64_t> unsent_ ABSL_GUARDED_BY(mu_);
  uint32_t release_batch_ ABSL_GUARDED_BY(mu_) = 1;
  bool more_in_hand_ ABSL_GUARDED_BY(mu_) = false;
  // Gathered releases give back at most this much of the publisher's
  // pool, so that it does not wait for memory the gathering holds back.
  uint64_t gather_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t unsent_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool publisher_takes_waiting_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace shmport::internal

#endif  // SHMPORT_CLIENT_TOPIC_SUBSCRIBER_LINK_H_
