#include "tests/load/stream_worker.h"

#include <errno.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <list>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/broker_link.h"
#include "shmport/port.h"
#include "tests/fault/fd_limit.h"
#include "tests/ports/port_harness.h"
#include "tests/util/process_census.h"
#include "tests/util/runfiles.h"

namespace shmport::testing {
namespace {

constexpr uint32_t kReplyMagic = 0x57524b52;    // "WRKR"
constexpr uint32_t kPayloadMagic = 0x53484d50;  // "SHMP"

// Commands, one byte each, then their fields in host byte order.
constexpr char kAttach = 'A';   // u32 request, u64 id, str address, str token
constexpr char kReport = 'R';   // u32 request
constexpr char kFinish = 'F';   // u32 request
constexpr char kFdLimit = 'L';  // u32 request, i32 spare (< 0: lift the limit)

// Every reply has this shape, so a late answer to a request the parent
// gave up on is recognised by its request id and skipped.
struct Reply {
  uint32_t magic = kReplyMagic;
  uint32_t request = 0;
  int32_t code = 0;  // absl::StatusCode of an attach
  char message[240] = {};
  WorkerReport report;
};
static_assert(sizeof(Reply) <= PIPE_BUF, "a reply must be one atomic write");

// The head of every payload; the rest is FillPattern(seed of seq).
struct PayloadHeader {
  uint64_t seq;
  int64_t sent_ns;  // CLOCK_MONOTONIC: one clock for the whole host
  uint32_t size;
  uint32_t magic;
};
static_assert(sizeof(PayloadHeader) == 24);

int64_t MonotonicNanos() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// The pattern of message `seq` in one direction of port `port_id`.
uint64_t PatternSeed(uint64_t port_id, bool from_initiator, uint64_t seq) {
  return Mix(Mix(port_id * 2 + (from_initiator ? 1 : 0)) ^ seq);
}

template <typename T>
void AppendValue(std::string* out, const T& value) {
  out->append(reinterpret_cast<const char*>(&value), sizeof(value));
}

// The child's counters, shared by its port threads.
class Counters {
 public:
  template <typename Fn>
  void Update(Fn update) {
    std::lock_guard<std::mutex> lock(mu_);
    update(totals_);
  }
  // The counters, plus what the process holds now. At an fd limit the
  // census goes through `limit` (opening /proc would need a new fd).
  WorkerReport Snapshot(const std::optional<FdLimit>& limit) {
    WorkerReport r;
    {
      std::lock_guard<std::mutex> lock(mu_);
      r = totals_;
    }
    r.pid = ::getpid();
    r.open_fds = limit.has_value() ? limit->OpenFds() : CountOpenFds();
    r.segment_mappings =
        limit.has_value() ? limit->SegmentMappings() : CountSegmentMappings();
    return r;
  }

 private:
  std::mutex mu_;  // guards totals_
  WorkerReport totals_;
};

// One port end: its thread opens the port (HELLO), then streams and checks
// until the port closes or Stop().
class PortRunner {
 public:
  PortRunner(UniqueFd fd, const v1::PortOpened& opened,
             const StreamOptions& stream, Counters* counters)
      : fd_(std::move(fd)),
        port_id_(opened.port_id()),
        initiator_(opened.initiator()),
        stream_(stream),
        counters_(counters) {
    peer_.pid = opened.peer().pid();
    peer_.uid = opened.peer().uid();
    peer_.process_id = opened.peer().process_id();
    peer_.name = opened.peer().name();
    options_.geometry.chunk_size = opened.geometry().chunk_size();
    options_.geometry.chunk_count = opened.geometry().chunk_count();
    options_.max_segments = opened.geometry().max_segments();
    options_.inline_threshold = opened.geometry().inline_threshold();
    options_.port_id = port_id_;
    options_.ring_capacity = stream.ring_capacity;
    options_.send_timeout = stream.send_timeout;
    options_.allocate_timeout = stream.allocate_timeout;
    options_.hello_timeout = absl::Seconds(10);
  }
  ~PortRunner() { Join(); }

  void Start() {
    thread_ = std::thread([this] { Run(); });
  }
  // Closes the port (the peer gets a BYE) and makes the thread end soon.
  void Stop() {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    if (port_ != nullptr) port_->Close();
  }
  bool done() const { return done_.load(std::memory_order_acquire); }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Run();
  // Sends message `seq`; DEADLINE_EXCEEDED when a bound was hit (retry the
  // same seq), UNAVAILABLE when the port closed.
  absl::Status SendOne(Port& port, uint64_t seq, std::mt19937_64& rng);
  void Check(const Message& message);
  size_t PickSize(std::mt19937_64& rng) const;

  UniqueFd fd_;
  PeerIdentity peer_;
  PortOptions options_;
  const uint64_t port_id_;
  const bool initiator_;
  const StreamOptions stream_;
  Counters* const counters_;
  uint64_t next_in_ = 0;  // the sequence number expected next

  std::mutex mu_;         // guards port_ and stop_ against Stop()
  Port* port_ = nullptr;  // while open; owned by Run()
  bool stop_ = false;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

size_t PortRunner::PickSize(std::mt19937_64& rng) const {
  const size_t max = std::max<size_t>(
      sizeof(PayloadHeader),
      std::min<uint64_t>(stream_.max_payload, options_.geometry.data_size()));
  const uint64_t r = rng() % 100;
  size_t size;
  if (r < 40) {
    size = sizeof(PayloadHeader) + rng() % 1000;
  } else if (r < 75) {
    size = 1024 + rng() % (15 * 1024);
  } else if (r < 95) {
    size = 16 * 1024 + rng() % (112 * 1024);
  } else {
    size = 128 * 1024 + rng() % std::max<uint64_t>(1, max - 128 * 1024);
  }
  return std::min(size, max);
}

absl::Status PortRunner::SendOne(Port& port, uint64_t seq,
                                 std::mt19937_64& rng) {
  const size_t size = PickSize(rng);
  absl::StatusOr<Buffer> b = port.Allocate(size, stream_.allocate_timeout);
  if (!b.ok()) {
    if (absl::IsDeadlineExceeded(b.status())) {
      counters_->Update([](WorkerReport& r) { ++r.allocate_stalls; });
    }
    return b.status();
  }
  PayloadHeader h{seq, MonotonicNanos(), static_cast<uint32_t>(size),
                  kPayloadMagic};
  std::memcpy(b->data(), &h, sizeof(h));
  FillPattern(b->data() + sizeof(h), size - sizeof(h),
              PatternSeed(port_id_, initiator_, seq));
  absl::Status s = port.Send(1, *std::move(b));
  if (s.ok()) {
    counters_->Update([&](WorkerReport& r) {
      ++r.messages_sent;
      r.bytes_sent += size;
    });
  } else if (absl::IsDeadlineExceeded(s)) {
    counters_->Update([](WorkerReport& r) { ++r.send_stalls; });
  }
  return s;
}

void PortRunner::Check(const Message& message) {
  const int64_t now = MonotonicNanos();
  std::vector<uint8_t> copy;
  const uint8_t* bytes = message.data().data();
  if (message.fragment_count() > 1) {
    copy.resize(message.size());
    message.CopyTo(copy.data());
    bytes = copy.data();
  }
  PayloadHeader h{};
  bool corrupt = message.size() < sizeof(h);
  if (!corrupt) {
    std::memcpy(&h, bytes, sizeof(h));
    corrupt = h.magic != kPayloadMagic || h.size != message.size() ||
              !CheckPattern(bytes + sizeof(h), message.size() - sizeof(h),
                            PatternSeed(port_id_, !initiator_, h.seq));
  }
  counters_->Update([&](WorkerReport& r) {
    ++r.messages_received;
    r.bytes_received += message.size();
    if (corrupt) {
      ++r.corrupt;
      return;
    }
    if (h.seq < next_in_) {
      ++r.duplicated;
      return;
    }
    r.lost += h.seq - next_in_;
    next_in_ = h.seq + 1;
    const int64_t micros = std::max<int64_t>(0, (now - h.sent_ns) / 1000);
    ++r.latency[LatencyBucket(static_cast<uint64_t>(micros))];
  });
}

void PortRunner::Run() {
  absl::StatusOr<std::unique_ptr<Port>> opened =
      Port::Open(std::move(fd_), peer_, options_);
  if (!opened.ok()) {
    counters_->Update([](WorkerReport& r) { ++r.port_open_failures; });
    done_.store(true, std::memory_order_release);
    return;
  }
  std::unique_ptr<Port> port = *std::move(opened);
  {
    std::lock_guard<std::mutex> lock(mu_);
    port_ = port.get();
    if (stop_) port_->Close();
  }
  counters_->Update([](WorkerReport& r) {
    ++r.ports_opened;
    ++r.ports_open;
  });
  std::mt19937_64 rng(Mix(stream_.seed ^ Mix(port_id_ * 2 + initiator_)));
  const bool sending = stream_.messages_per_second > 0;
  const absl::Duration interval =
      sending ? absl::Seconds(1) / stream_.messages_per_second
              : absl::Milliseconds(200);
  // A random phase, so that ports opened together do not send together.
  absl::Time next_send =
      absl::Now() + interval * (static_cast<double>(rng() % 1000) / 1000);
  uint64_t seq_out = 0;
  while (true) {
    const absl::Duration wait =
        std::max(absl::ZeroDuration(),
                 sending ? next_send - absl::Now() : absl::Milliseconds(200));
    std::optional<Message> got;
    if (wait == absl::ZeroDuration()) {
      // Receive(0) would not look at the socket at all.
      absl::StatusOr<std::optional<Message>> m = port->TryReceive();
      if (!m.ok()) break;  // closed
      got = *std::move(m);
    } else {
      absl::StatusOr<Message> m = port->Receive(wait);
      if (m.ok()) {
        got = *std::move(m);
      } else if (!absl::IsDeadlineExceeded(m.status())) {
        break;  // closed
      }
    }
    if (got.has_value()) Check(*got);
    if (sending && absl::Now() >= next_send) {
      absl::Status s = SendOne(*port, seq_out, rng);
      if (s.ok()) {
        ++seq_out;
        next_send += interval;
        // After a stall, resume the rate instead of bursting to catch up.
        if (next_send < absl::Now() - absl::Seconds(1)) {
          next_send = absl::Now();
        }
      } else if (!absl::IsDeadlineExceeded(s)) {
        if (port->closed()) break;
        // E.g. RESOURCE_EXHAUSTED (no fd or memory for a segment): the
        // port still works; try again one interval later.
        counters_->Update([](WorkerReport& r) { ++r.send_errors; });
        next_send = absl::Now() + interval;
      }
    }
  }
  bool stopped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped = stop_;
    port_ = nullptr;
  }
  const std::string reason(port->closed_reason().message());
  counters_->Update([&](WorkerReport& r) {
    --r.ports_open;
    if (stopped) return;
    if (reason.find("protocol error") != std::string::npos) {
      ++r.closed_by_protocol;
    } else if (reason.find("peer closed") != std::string::npos) {
      ++r.closed_by_peer;
    } else {
      ++r.closed_otherwise;
    }
  });
  port.reset();
  done_.store(true, std::memory_order_release);
}

// The child's whole life. Returns its exit code.
int ChildMain(int commands, int replies, const StreamOptions& options) {
  Counters counters;
  std::optional<FdLimit> fd_limit;
  BrokerLink link;
  std::list<std::unique_ptr<PortRunner>> runners;
  auto reap = [&] {
    for (auto it = runners.begin(); it != runners.end();) {
      if ((*it)->done()) {
        it = runners.erase(it);  // joins
      } else {
        ++it;
      }
    }
  };
  auto stop_all = [&] {
    for (auto& r : runners) r->Stop();
    runners.clear();  // joins every thread
    link.Close();
  };
  while (true) {
    reap();
    pollfd fds[2] = {{commands, POLLIN, 0},
                     {link.valid() ? link.fd() : -1, POLLIN, 0}};
    // The timeout only bounds how long finished port threads wait to be
    // joined.
    if (::poll(fds, 2, 500) < 0) {
      if (errno == EINTR) continue;
      return 5;
    }
    if (fds[1].revents != 0) {
      while (true) {
        absl::StatusOr<std::optional<BrokerNotice>> notice = link.Receive();
        if (!notice.ok()) {
          if (absl::IsInvalidArgument(notice.status())) {
            // E.g. a PortOpened whose fd this process had no room for.
            counters.Update([](WorkerReport& r) { ++r.frames_dropped; });
            continue;
          }
          counters.Update([](WorkerReport& r) { ++r.daemon_lost; });
          link = BrokerLink();  // the data plane carries on without it
          break;
        }
        if (!notice->has_value()) break;
        const v1::BrokerFrame& frame = (*notice)->frame;
        if (frame.has_port_opened()) {
          counters.Update([](WorkerReport& r) { ++r.ports_offered; });
          runners.push_back(std::make_unique<PortRunner>(
              std::move((*notice)->fd), frame.port_opened(), options,
              &counters));
          runners.back()->Start();
        } else if (frame.has_port_closed()) {
          counters.Update([](WorkerReport& r) { ++r.port_closed_notices; });
        }
      }
    }
    if (fds[0].revents == 0) continue;
    char command;
    if (!ReadFull(commands, &command, 1)) {  // the parent is gone
      stop_all();
      return 0;
    }
    Reply reply;
    if (!ReadFull(commands, &reply.request, sizeof(reply.request))) return 6;
    if (command == kAttach) {
      uint64_t id = 0;
      std::string address, token;
      if (!ReadFull(commands, &id, sizeof(id)) ||
          !ReadString(commands, &address) || !ReadString(commands, &token)) {
        return 6;
      }
      absl::StatusOr<BrokerLink> attached =
          BrokerLink::Attach(address, id, token, absl::Seconds(30));
      reply.code = static_cast<int32_t>(attached.status().code());
      const std::string message(attached.status().message());
      std::strncpy(reply.message, message.c_str(), sizeof(reply.message) - 1);
      if (attached.ok()) link = *std::move(attached);
    } else if (command == kFdLimit) {
      int32_t spare = 0;
      if (!ReadFull(commands, &spare, sizeof(spare))) return 6;
      fd_limit.reset();
      if (spare >= 0) {
        absl::StatusOr<FdLimit> limit = FdLimit::Exhaust(spare);
        reply.code = static_cast<int32_t>(limit.status().code());
        if (limit.ok()) fd_limit.emplace(*std::move(limit));
      }
      reply.report = counters.Snapshot(fd_limit);
    } else if (command == kReport) {
      reply.report = counters.Snapshot(fd_limit);
    } else if (command == kFinish) {
      stop_all();
      reply.report = counters.Snapshot(fd_limit);
      return WriteFull(replies, &reply, sizeof(reply)) ? 0 : 4;
    } else {
      return 7;
    }
    if (!WriteFull(replies, &reply, sizeof(reply))) return 4;
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// WorkerReport

void WorkerReport::Add(const WorkerReport& o) {
  messages_sent += o.messages_sent;
  bytes_sent += o.bytes_sent;
  messages_received += o.messages_received;
  bytes_received += o.bytes_received;
  corrupt += o.corrupt;
  lost += o.lost;
  duplicated += o.duplicated;
  ports_offered += o.ports_offered;
  ports_opened += o.ports_opened;
  ports_open += o.ports_open;
  port_open_failures += o.port_open_failures;
  closed_by_peer += o.closed_by_peer;
  closed_by_protocol += o.closed_by_protocol;
  closed_otherwise += o.closed_otherwise;
  port_closed_notices += o.port_closed_notices;
  allocate_stalls += o.allocate_stalls;
  send_stalls += o.send_stalls;
  send_errors += o.send_errors;
  daemon_lost += o.daemon_lost;
  frames_dropped += o.frames_dropped;
  for (int i = 0; i < kLatencyBuckets; ++i) latency[i] += o.latency[i];
}

void WorkerReport::Subtract(const WorkerReport& o) {
  messages_sent -= o.messages_sent;
  bytes_sent -= o.bytes_sent;
  messages_received -= o.messages_received;
  bytes_received -= o.bytes_received;
  corrupt -= o.corrupt;
  lost -= o.lost;
  duplicated -= o.duplicated;
  ports_offered -= o.ports_offered;
  ports_opened -= o.ports_opened;
  ports_open -= o.ports_open;
  port_open_failures -= o.port_open_failures;
  closed_by_peer -= o.closed_by_peer;
  closed_by_protocol -= o.closed_by_protocol;
  closed_otherwise -= o.closed_otherwise;
  port_closed_notices -= o.port_closed_notices;
  allocate_stalls -= o.allocate_stalls;
  send_stalls -= o.send_stalls;
  send_errors -= o.send_errors;
  daemon_lost -= o.daemon_lost;
  frames_dropped -= o.frames_dropped;
  for (int i = 0; i < kLatencyBuckets; ++i) latency[i] -= o.latency[i];
}

uint64_t WorkerReport::latency_samples() const {
  uint64_t n = 0;
  for (uint64_t c : latency) n += c;
  return n;
}

absl::Duration WorkerReport::LatencyQuantile(double quantile) const {
  const uint64_t n = latency_samples();
  if (n == 0) return absl::ZeroDuration();
  const uint64_t rank =
      std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(quantile * n)));
  uint64_t seen = 0;
  for (int b = 0; b < kLatencyBuckets; ++b) {
    seen += latency[b];
    if (seen >= rank) {
      return absl::Microseconds(
          static_cast<int64_t>(LatencyBucketUpperMicros(b)));
    }
  }
  return absl::Microseconds(
      static_cast<int64_t>(LatencyBucketUpperMicros(kLatencyBuckets - 1)));
}

int LatencyBucket(uint64_t micros) {
  if (micros == 0) return 0;
  // Four buckets per power of two: the exponent and the next two bits.
  const int exponent = std::bit_width(micros) - 1;
  const int fraction = exponent >= 2
                           ? static_cast<int>((micros >> (exponent - 2)) & 3)
                           : static_cast<int>((micros << (2 - exponent)) & 3);
  return std::min(WorkerReport::kLatencyBuckets - 1,
                  1 + exponent * 4 + fraction);
}

uint64_t LatencyBucketUpperMicros(int b) {
  if (b <= 0) return 1;
  const int exponent = (b - 1) / 4;
  const int fraction = (b - 1) % 4;
  // Bucket (e, f) holds [2^e * (4 + f) / 4, 2^e * (5 + f) / 4).
  return std::max<uint64_t>(1,
                            ((uint64_t{1} << exponent) * (5 + fraction)) / 4);
}

// ---------------------------------------------------------------------------
// StreamWorker

std::string StreamWorker::FindBinary() {
  return FindRunfile("tests/load/stream_worker_main");
}

absl::StatusOr<std::unique_ptr<StreamWorker>> StreamWorker::Fork(
    const StreamOptions& options) {
  std::string binary = FindBinary();
  if (::access(binary.c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat(
        "no stream worker at ", binary,
        " (depend on //tests/load:worker_ring, which carries it)"));
  }
  // The worker runs its own binary, not a fork of this process: a fork of
  // a multi-threaded process (gRPC's threads) inherits every lock another
  // thread held at that instant, and under ASan a port thread of the worker
  // would then wait forever for the allocator's (see StreamWorker). Its
  // stdin and stdout are the two pipes.
  absl::StatusOr<PipedChild> child =
      PipedChild::Exec("stream worker", {std::move(binary), "0", "1"});
  if (!child.ok()) return child.status();
  std::unique_ptr<StreamWorker> worker(new StreamWorker(*std::move(child)));
  // The options go first, as plain bytes.
  const absl::string_view bytes(reinterpret_cast<const char*>(&options),
                                sizeof(options));
  if (!worker->child_.Write(bytes).ok()) {
    return absl::UnavailableError(absl::StrCat(
        "stream worker ", worker->pid(), " exited before it took its options"));
  }
  return worker;
}

int RunStreamWorker(int commands, int replies) {
  StreamOptions options;
  if (!ReadFull(commands, &options, sizeof(options))) return 6;
  return ChildMain(commands, replies, options);
}

namespace {

// Sends command `kind` (request id, then `fields`) and reads replies until
// the one for that request (earlier ones are late answers to requests that
// timed out).
absl::StatusOr<Reply> Call(PipedChild& child, char kind, uint32_t request,
                           const std::string& fields, absl::Duration timeout) {
  std::string command(1, kind);
  AppendValue(&command, request);
  command.append(fields);
  if (absl::Status s = child.Write(command); !s.ok()) return s;
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    Reply reply;
    if (absl::Status s =
            child.ReadExactly(&reply, sizeof(reply), deadline - absl::Now());
        !s.ok()) {
      return s;
    }
    if (reply.magic != kReplyMagic) {
      return absl::InternalError("worker reply without its magic");
    }
    if (reply.request == request) return reply;
  }
}

}  // namespace

absl::Status StreamWorker::Attach(const std::string& broker_address,
                                  uint64_t process_id, const std::string& token,
                                  absl::Duration timeout) {
  std::string fields;
  AppendValue(&fields, process_id);
  AppendString(&fields, broker_address);
  AppendString(&fields, token);
  absl::StatusOr<Reply> reply =
      Call(child_, kAttach, ++next_request_, fields, timeout);
  if (!reply.ok()) return reply.status();
  if (reply->code == 0) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(reply->code),
                      reply->message);
}

absl::StatusOr<WorkerReport> StreamWorker::LimitFds(int spare,
                                                    absl::Duration timeout) {
  std::string fields;
  AppendValue(&fields, static_cast<int32_t>(spare));
  absl::StatusOr<Reply> reply =
      Call(child_, kFdLimit, ++next_request_, fields, timeout);
  if (!reply.ok()) return reply.status();
  if (reply->code != 0) {
    return absl::Status(static_cast<absl::StatusCode>(reply->code),
                        "the worker could not limit its fds");
  }
  return reply->report;
}

absl::StatusOr<WorkerReport> StreamWorker::Report(absl::Duration timeout) {
  absl::StatusOr<Reply> reply =
      Call(child_, kReport, ++next_request_, "", timeout);
  if (!reply.ok()) return reply.status();
  return reply->report;
}

absl::StatusOr<WorkerReport> StreamWorker::Finish(absl::Duration timeout) {
  absl::StatusOr<Reply> reply =
      Call(child_, kFinish, ++next_request_, "", timeout);
  if (!reply.ok()) return reply.status();
  const std::string exit = Wait(timeout);
  if (exit != "exit 0") {
    return absl::InternalError(
        absl::StrCat("worker ", pid(), " ended with ", exit));
  }
  return reply->report;
}

}  // namespace shmport::testing
