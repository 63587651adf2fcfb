// TopicEndpointRelay: the endpoint a Session registers before the topic's
// core exists. The core needs the daemon's grant (geometry, history) and
// the grant comes with the answer to the very call that registers the
// endpoint, so the Session registers this relay, builds the core from the
// grant, then attaches it; a notice that came in between waits here.
#ifndef SHMPORT_CLIENT_TOPIC_ENDPOINT_RELAY_H_
#define SHMPORT_CLIENT_TOPIC_ENDPOINT_RELAY_H_

#include <memory>
#include <utility>
#include <vector>

#include "client/topic_endpoint.h"
#include "common/mutex.h"

namespace shmport::internal {

class TopicEndpointRelay : public TopicEndpoint {
 public:
  // Routes everything to `target` from now on, first what waited.
  void Attach(std::shared_ptr<TopicEndpoint> target) {
    std::vector<SubscriptionOpened> early;
    {
      MutexLock lock(&mu_);
      target_ = target;
      early.swap(early_);
    }
    for (SubscriptionOpened& opened : early) {
      target->OnSubscriptionOpened(std::move(opened));
    }
  }
  // Stops routing (the core is closing): later notices are dropped, their
  // sockets closed.
  void Detach() {
    MutexLock lock(&mu_);
    target_.reset();
    detached_ = true;
    early_.clear();
  }

  void OnSubscriptionOpened(SubscriptionOpened subscription) override {
    std::shared_ptr<TopicEndpoint> target;
    {
      MutexLock lock(&mu_);
      if (detached_) return;
      if (target_ == nullptr) {
        early_.push_back(std::move(subscription));
        return;
      }
      target = target_;
    }
    target->OnSubscriptionOpened(std::move(subscription));
  }
  void OnSubscriptionClosed(uint64_t subscription_id,
                            const absl::Status& reason) override {
    std::shared_ptr<TopicEndpoint> target;
    {
      MutexLock lock(&mu_);
      if (target_ == nullptr) {
        std::erase_if(early_, [&](const SubscriptionOpened& o) {
          return o.subscription_id == subscription_id;
        });
        return;
      }
      target = target_;
    }
    target->OnSubscriptionClosed(subscription_id, reason);
  }
  std::vector<SubscriptionStats> Stats() const override {
    std::shared_ptr<TopicEndpoint> target;
    {
      MutexLock lock(&mu_);
      target = target_;
    }
    return target ? target->Stats() : std::vector<SubscriptionStats>{};
  }

 private:
  mutable Mutex mu_;
  std::shared_ptr<TopicEndpoint> target_ ABSL_GUARDED_BY(mu_);
  bool detached_ ABSL_GUARDED_BY(mu_) = false;
  // Before Attach; bounded by the SessionCore's early-notice bound.
  std::vector<SubscriptionOpened> early_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shmport::internal

#endif  // SHMPORT_CLIENT_TOPIC_ENDPOINT_RELAY_H_
