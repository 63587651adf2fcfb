// topic_fanout: one publisher to 1, 2, 4, 8 subscriber processes through a
// topic (each sample written once into shared memory, read in place by
// every subscriber) against the same fan-out through N separate ports with
// SendCopy (the sample copied once per port), in one run (issue 14,
// acceptance 8). Every subscriber reads every byte of every sample.
//
//   bazel run -c opt //bench:topic_fanout -- [--scale=1.0]
//
// Prints one row per (size, subscribers): delivered bytes/s (subscribers x
// samples x size / wall time from the first publish to the last
// subscriber's exit) for each, and the ratio.
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/forked_process.h"
#include "client/deadline.h"
#include "client/topic_access.h"
#include "client/topic_publisher_core.h"
#include "client/topic_subscriber_core.h"
#include "shmport/port.h"
#include "shmport/topic.h"

ABSL_FLAG(double, scale, 1.0, "multiplies the samples of every cell");
ABSL_FLAG(std::vector<std::string>, sizes, {},
          "sample sizes in bytes to run (default 64, 1048576, 4194304)");
ABSL_FLAG(std::vector<std::string>, subs, {},
          "subscriber counts to run (default 1, 2, 4, 8)");
ABSL_FLAG(std::string, only, "",
          "\"topic\" or \"ports\": run only that side (for profiling)");

namespace shmport::bench {
namespace {

uint64_t ReadEvery(absl::Span<const uint8_t> bytes) {
  uint64_t sum = 0;
  size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, bytes.data() + i, 8);
    sum += w;
  }
  for (; i < bytes.size(); ++i) sum += bytes[i];
  return sum;
}

volatile uint64_t sink;

struct Pair {
  UniqueFd parent, child;
};

Pair SocketPair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
    std::perror("socketpair");
    std::exit(1);
  }
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// Forks `n` children, child i running body(i, its end); closes in each
// child the ends that are not its own.
std::vector<ForkedProcess> ForkAll(
    std::vector<Pair>& pairs, const std::function<int(int, UniqueFd)>& body) {
  std::vector<ForkedProcess> children;
  for (size_t i = 0; i < pairs.size(); ++i) {
    absl::StatusOr<ForkedProcess> child = ForkedProcess::Start([&, i] {
      for (size_t j = 0; j < pairs.size(); ++j) {
        pairs[j].parent.Reset();
        if (j != i) pairs[j].child.Reset();
      }
      return body(static_cast<int>(i), std::move(pairs[i].child));
    });
    if (!child.ok()) std::exit(1);
    children.push_back(std::move(*child));
  }
  for (Pair& p : pairs) p.child.Reset();
  return children;
}

double WaitAll(std::vector<ForkedProcess>& children, absl::Time start) {
  for (ForkedProcess& c : children) {
    absl::StatusOr<std::string> end = c.Wait(absl::Now() + absl::Minutes(5));
    if (!end.ok() || *end != "exit 0") {
      std::fprintf(stderr, "a subscriber ended badly: %s\n",
                   end.ok() ? end->c_str() : end.status().ToString().c_str());
      return 0;
    }
  }
  return absl::ToDoubleSeconds(absl::Now() - start);
}

double TopicRun(int n, size_t size, uint64_t samples) {
  std::vector<Pair> pairs(n);
  for (Pair& p : pairs) p = SocketPair();
  auto children = ForkAll(pairs, [&](int, UniqueFd socket) {
    auto core = internal::SubscriberCore::Create("bench", {});
    if (!core.ok()) return 2;
    internal::SubscriptionOpened opened;
    opened.subscription_id = 1;
    opened.terms.queue_depth = 16;
    opened.socket = std::move(socket);
    (*core)->OnSubscriptionOpened(std::move(opened));
    for (uint64_t i = 0; i < samples; ++i) {
      auto s = (*core)->Receive(internal::Deadline(absl::Seconds(60)), true);
      if (!s.ok() || s->size() != size) return 3;
      sink = sink + ReadEvery(s->data());
    }
    return 0;
  });
  PublisherOptions options;
  options.geometry = {64 * 1024, 256};  // 16 MiB per segment
  options.max_segments = 4;
  auto core = internal::PublisherCore::Create("bench", options);
  if (!core.ok()) return 0;
  for (int i = 0; i < n; ++i) {
    internal::SubscriptionOpened opened;
    opened.subscription_id = i + 1;
    opened.terms.queue_depth = 16;
    opened.socket = std::move(pairs[i].parent);
    (*core)->OnSubscriptionOpened(std::move(opened));
  }
  const absl::Time start = absl::Now();
  for (uint64_t i = 0; i < samples; ++i) {
    auto buffer =
        (*core)->Allocate(size, internal::Deadline(absl::Seconds(60)));
    if (!buffer.ok()) return 0;
    std::memset(buffer->data(), static_cast<int>(i), size);
    if (!(*core)->Publish(std::move(*buffer)).ok()) return 0;
  }
  const double seconds = WaitAll(children, start);
  (*core)->Close();
  return seconds;
}

double PortsRun(int n, size_t size, uint64_t samples) {
  std::vector<Pair> pairs(n);
  for (Pair& p : pairs) p = SocketPair();
  const pid_t parent = getpid();
  auto children = ForkAll(pairs, [&](int, UniqueFd socket) {
    PeerIdentity peer;
    peer.pid = parent;
    peer.uid = getuid();
    auto port = Port::Open(std::move(socket), peer, PortOptions());
    if (!port.ok()) return 2;
    for (uint64_t i = 0; i < samples; ++i) {
      auto m = (*port)->Receive(absl::Seconds(60));
      if (!m.ok() || m->size() != size) return 3;
      for (size_t f = 0; f < m->fragment_count(); ++f) {
        sink = sink + ReadEvery(m->fragment(f));
      }
    }
    return 0;
  });
  std::vector<std::unique_ptr<Port>> ports;
  for (int i = 0; i < n; ++i) {
    PeerIdentity peer;
    peer.pid = children[i].pid();
    peer.uid = getuid();
    auto port = Port::Open(std::move(pairs[i].parent), peer, PortOptions());
    if (!port.ok()) return 0;
    ports.push_back(std::move(*port));
  }
  std::vector<uint8_t> sample(size);
  const absl::Time start = absl::Now();
  for (uint64_t i = 0; i < samples; ++i) {
    std::memset(sample.data(), static_cast<int>(i), size);
    for (auto& port : ports) {
      if (!port->SendCopy(0, sample).ok()) return 0;
    }
  }
  const double seconds = WaitAll(children, start);
  return seconds;
}

std::string Rate(double bytes_per_s) {
  if (bytes_per_s >= 1e9) return absl::StrCat(bytes_per_s / 1e9, " GB/s");
  return absl::StrCat(bytes_per_s / 1e6, " MB/s");
}

}  // namespace
}  // namespace shmport::bench

namespace {

// Whether `value` is in the flag's list (an empty list takes everything).
bool Selected(const std::vector<std::string>& list, uint64_t value) {
  if (list.empty()) return true;
  for (const std::string& item : list) {
    uint64_t v;
    if (absl::SimpleAtoi(item, &v) && v == value) return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  using namespace shmport::bench;
  const double scale = absl::GetFlag(FLAGS_scale);
  const std::string only = absl::GetFlag(FLAGS_only);
  struct Size {
    size_t bytes;
    uint64_t samples;
  };
  const Size sizes[] = {{64, 100'000}, {1 << 20, 1'000}, {4 << 20, 250}};
  std::printf("%-9s %4s %9s %14s %14s %7s\n", "size", "subs", "samples",
              "topic", "N ports copy", "ratio");
  for (const Size& s : sizes) {
    if (!Selected(absl::GetFlag(FLAGS_sizes), s.bytes)) continue;
    const uint64_t samples =
        std::max<uint64_t>(10, static_cast<uint64_t>(s.samples * scale));
    for (int n : {1, 2, 4, 8}) {
      if (!Selected(absl::GetFlag(FLAGS_subs), n)) continue;
      const double bytes = static_cast<double>(n) * samples * s.bytes;
      const double topic = only == "ports" ? 1 : TopicRun(n, s.bytes, samples);
      const double ports = only == "topic" ? 1 : PortsRun(n, s.bytes, samples);
      if (topic == 0 || ports == 0) return 1;
      std::printf("%-9zu %4d %9llu %14s %14s %6.2fx\n", s.bytes, n,
                  static_cast<unsigned long long>(samples),
                  Rate(bytes / topic).c_str(), Rate(bytes / ports).c_str(),
                  ports / topic);
      std::fflush(stdout);
    }
  }
  return 0;
}
