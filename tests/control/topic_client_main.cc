// The child of tests/control/topic_client.h: a Session whose topics go to
// a recording TopicEndpoint, driven by one-line commands on stdin; answers
// and notices go to stdout. Usage: topic_client NAME ADDRESS
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/session_core.h"
#include "common/mutex.h"
#include "shmport/session.h"
#include "tests/util/piped_child.h"

namespace shmport::testing {
namespace {

using internal::SubscriptionStats;

// The child's recording endpoint: every notice becomes a line on `out`.
class RecordingEndpoint final : public internal::TopicEndpoint {
 public:
  explicit RecordingEndpoint(int out) : out_(out) {}

  // The socket is stored before the notice is told: a test that reads
  // OPENED may use the subscription in its very next command.
  void OnSubscriptionOpened(internal::SubscriptionOpened s) override {
    const std::string line =
        absl::StrCat("OPENED ", s.subscription_id, " ", s.peer.pid, " ",
                     s.peer.name, " ", s.peer.process_id, " ", s.topic);
    {
      MutexLock lock(&mu_);
      sockets_[s.subscription_id] = std::move(s.socket);
    }
    Say(line);
  }
  void OnSubscriptionClosed(uint64_t id, const absl::Status& why) override {
    Say(absl::StrCat("CLOSED ", id, " ", absl::StatusCodeToString(why.code()),
                     " ", why.message()));
    MutexLock lock(&mu_);
    sockets_.erase(id);
    lags_.erase(id);
  }
  std::vector<SubscriptionStats> Stats() const override {
    MutexLock lock(&mu_);
    std::vector<SubscriptionStats> stats;
    for (const auto& [id, lag] : lags_) {
      stats.push_back({.subscription_id = id,
                       .samples_delivered = lag + 10,
                       .lag = lag,
                       .held_chunks = lag + 1,
                       .held_bytes = (lag + 1) * 4096});
    }
    return stats;
  }

  int Socket(uint64_t id) {
    MutexLock lock(&mu_);
    auto it = sockets_.find(id);
    return it == sockets_.end() ? -1 : it->second.get();
  }
  void SetLag(uint64_t id, uint64_t lag) {
    MutexLock lock(&mu_);
    lags_[id] = lag;
  }
  void Say(const std::string& line) {
    const std::string l = line + "\n";
    MutexLock lock(&mu_);
    (void)WriteFull(out_, l.data(), l.size());
  }

 private:
  const int out_;
  mutable Mutex mu_;  // a leaf: held to touch the maps or write a line
  std::map<uint64_t, UniqueFd> sockets_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, uint64_t> lags_ ABSL_GUARDED_BY(mu_);
};

std::string Error(const absl::Status& s) {
  return absl::StrCat("ERR ", absl::StatusCodeToString(s.code()), " ",
                      s.message());
}

std::string Recv(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (fd < 0 || ::poll(&p, 1, 10000) != 1) return "ERR DEADLINE no datagram";
  char buffer[256];
  const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
  if (n < 0) return "ERR INTERNAL recv failed";
  return absl::StrCat("GOT ", absl::string_view(buffer, n));
}

// SO_PASSCRED on: the kernel stamps every later datagram to `fd` with its
// sender's credentials.
std::string PassCredentials(int fd) {
  const int on = 1;
  return fd >= 0 &&
                 ::setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) == 0
             ? "OK"
             : "ERR NOT_FOUND no such socket";
}

// The next datagram and the pid the kernel says sent it.
std::string ReceiveWithSender(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (fd < 0 || ::poll(&p, 1, 10000) != 1) return "ERR DEADLINE no datagram";
  char buffer[256];
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
  iovec iov{buffer, sizeof(buffer)};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control;
  m.msg_controllen = sizeof(control);
  const ssize_t n = ::recvmsg(fd, &m, 0);
  cmsghdr* c = n >= 0 ? CMSG_FIRSTHDR(&m) : nullptr;
  if (c == nullptr || c->cmsg_type != SCM_CREDENTIALS) {
    return "ERR INTERNAL no credentials";
  }
  ucred cred;
  std::memcpy(&cred, CMSG_DATA(c), sizeof(cred));
  return absl::StrCat("FROM ", cred.pid, " ", absl::string_view(buffer, n));
}

// One command line of the test; the answer line.
std::string Serve(internal::SessionCore& core,
                  const std::shared_ptr<RecordingEndpoint>& endpoint,
                  const std::string& line) {
  std::vector<std::string> w = absl::StrSplit(line, absl::MaxSplits(' ', 2));
  uint64_t a = 0, b = 0;
  if (w.size() > 1) (void)absl::SimpleAtoi(w[1], &a);
  if (w.size() > 2) (void)absl::SimpleAtoi(w[2], &b);
  const std::string rest = w.size() > 2 ? w[2] : "";
  if (w[0] == "publish") {
    auto grant =
        core.Publish(w[1], {.history = static_cast<uint32_t>(b)}, endpoint);
    return grant.ok() ? absl::StrCat("OK ", grant->publication_id)
                      : Error(grant.status());
  }
  if (w[0] == "subscribe") {
    internal::SubscriptionRequest request;
    if (absl::StartsWith(rest, "DROP")) {
      request.slow_subscriber =
          internal::SubscriptionTerms::SlowSubscriber::kDropOldest;
      (void)absl::SimpleAtoi(rest.substr(5), &request.queue_depth);
    }
    auto handle = core.Subscribe(w[1], request, endpoint);
    return handle.ok() ? absl::StrCat("OK ", *handle) : Error(handle.status());
  }
  if (w[0] == "unpublish" || w[0] == "unsubscribe") {
    const absl::Status s =
        w[0] == "unpublish" ? core.Unpublish(a) : core.Unsubscribe(a);
    return s.ok() ? "OK" : Error(s);
  }
  if (w[0] == "send") {
    const int fd = endpoint->Socket(a);
    return fd >= 0 && ::send(fd, rest.data(), rest.size(), MSG_NOSIGNAL) ==
                          static_cast<ssize_t>(rest.size())
               ? "OK"
               : "ERR INTERNAL send failed";
  }
  if (w[0] == "recv") return Recv(endpoint->Socket(a));
  if (w[0] == "passcred") return PassCredentials(endpoint->Socket(a));
  if (w[0] == "recvfrom") return ReceiveWithSender(endpoint->Socket(a));
  if (w[0] == "lag") {
    endpoint->SetLag(a, b);
    return "OK";
  }
  return "ERR INVALID_ARGUMENT unknown command";
}

int ChildMain(const std::string& name, const std::string& address, int in,
              int out) {
  auto session = Session::Connect({.name = name,
                                   .address = address,
                                   .stats_interval = absl::Milliseconds(50)});
  auto endpoint = std::make_shared<RecordingEndpoint>(out);
  endpoint->Say(session.ok() ? "OK connected" : Error(session.status()));
  if (!session.ok()) return 1;
  std::string line;
  for (char c; ReadFull(in, &c, 1);) {
    if (c != '\n') {
      line.push_back(c);
      continue;
    }
    endpoint->Say(Serve((*session)->core(), endpoint, line));
    line.clear();
  }
  return 0;
}

}  // namespace
}  // namespace shmport::testing

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  return shmport::testing::ChildMain(argv[1], argv[2], STDIN_FILENO,
                                     STDOUT_FILENO);
}
