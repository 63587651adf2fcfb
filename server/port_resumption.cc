#include "server/port_resumption.h"

#include <algorithm>
#include <utility>

namespace shmport::server {

bool PortResumption::Completes(const Offer& offer, const v1::ResumedPort& d,
                               uint64_t process_id, pid_t pid) {
  return offer.process_id != process_id && offer.pid == d.peer_pid() &&
         offer.peer_pid == pid && offer.initiator != d.initiator();
}

PortResumption::Outcome PortResumption::Declare(uint64_t process_id, pid_t pid,
                                                const v1::ResumePorts& r,
                                                uint32_t max_pending) {
  Outcome outcome;
  uint32_t& mine = count_by_process_[process_id];
  for (const v1::ResumedPort& d : r.ports()) {
    if (d.port_id() == 0 || d.peer_pid() <= 0) {
      ++outcome.refused;
      continue;
    }
    std::vector<Offer>& offers = by_port_[d.port_id()];
    auto other = std::find_if(
        offers.begin(), offers.end(),
        [&](const Offer& o) { return Completes(o, d, process_id, pid); });
    if (other != offers.end()) {
      Match m{d.port_id(), other->initiator ? other->process_id : process_id,
              other->initiator ? process_id : other->process_id,
              other->initiator ? other->geometry : d.geometry()};
      --count_by_process_[other->process_id];
      --pending_;
      offers.erase(other);
      if (offers.empty()) by_port_.erase(d.port_id());
      outcome.matched.push_back(std::move(m));
      continue;
    }
    const bool duplicate =
        std::any_of(offers.begin(), offers.end(),
                    [&](const Offer& o) { return o.process_id == process_id; });
    if (duplicate || mine >= max_pending) {
      if (offers.empty()) by_port_.erase(d.port_id());
      ++outcome.refused;
      continue;
    }
    offers.push_back(
        {process_id, pid, d.peer_pid(), d.initiator(), d.geometry()});
    ++mine;
    ++pending_;
    ++outcome.waiting;
  }
  return outcome;
}

void PortResumption::Forget(uint64_t process_id) {
  auto count = count_by_process_.find(process_id);
  if (count == count_by_process_.end()) return;
  const bool any = count->second > 0;
  count_by_process_.erase(count);
  if (!any) return;
  for (auto it = by_port_.begin(); it != by_port_.end();) {
    std::vector<Offer>& offers = it->second;
    const size_t before = offers.size();
    offers.erase(std::remove_if(offers.begin(), offers.end(),
                                [&](const Offer& o) {
                                  return o.process_id == process_id;
                                }),
                 offers.end());
    pending_ -= before - offers.size();
    if (offers.empty()) {
      by_port_.erase(it++);
    } else {
      ++it;
    }
  }
}

}  // namespace shmport::server
