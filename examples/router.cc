// router: the consumer of the `make run` demo. Registers as "router",
// accepts every port workers open to it, reads each payload in place from
// the workers' shared memory (checking every byte), and prints a progress
// line with the live throughput of each port every second. On SIGINT or
// SIGTERM it stops accepting, lets the workers' ports drain and close, and
// prints a summary, ending with one machine-readable line:
//
//   summary role=router name=router ports=2 messages=102468 bytes=...
//     seconds=5.00 corrupt=0 out_of_order=0 fds_leaked=0 mappings_left=0
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "examples/payload_pattern.h"
#include "examples/resource_census.h"
#include "examples/shutdown_signals.h"
#include "shmport/session.h"

ABSL_FLAG(std::string, name, "router", "the name to register");
ABSL_FLAG(std::string, summary_file, "",
          "also write the summary line to this file (for the demo script)");
ABSL_FLAG(std::string, address, "",
          "shmportd's address (default: $SHMPORT_ADDRESS, else the "
          "per-user default socket)");
ABSL_FLAG(absl::Duration, progress_interval, absl::Seconds(1),
          "time between progress lines");

namespace shmport::examples {
namespace {

// "1.23 GB/s": decimal units, like the rest of shmport's rates.
std::string Rate(double bytes_per_second) {
  if (bytes_per_second >= 1e9) {
    return absl::StrFormat("%.2f GB/s", bytes_per_second / 1e9);
  }
  return absl::StrFormat("%.1f MB/s", bytes_per_second / 1e6);
}

// "3.00 GiB": binary units, like sizes everywhere in shmport.
std::string Size(double bytes) {
  if (bytes >= 1024.0 * 1024 * 1024) {
    return absl::StrFormat("%.2f GiB", bytes / (1024.0 * 1024 * 1024));
  }
  return absl::StrFormat("%.1f MiB", bytes / (1024.0 * 1024));
}

// One accepted port and the thread that drains it.
struct Inbound {
  std::unique_ptr<Port> port;
  std::string peer;
  std::string socket;  // FdTarget of the port's socket, for the census
  uint64_t port_id = 0;
  // Written by the reader thread, read by main for progress lines.
  std::atomic<uint64_t> messages{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> corrupt{0};
  std::atomic<uint64_t> out_of_order{0};
  std::atomic<bool> closed{false};
  absl::Time first_message = absl::InfiniteFuture();  // reader thread only
  absl::Time last_message = absl::InfinitePast();     // reader thread only
  uint64_t last_progress_bytes = 0;                   // main thread only
  std::thread reader;
};

// Reads until the worker closes the port, or `stop_reading` is set (then
// whatever is queued is still taken). Each message's chunks return to the
// worker as the message goes out of scope.
void Drain(Inbound& in, const std::atomic<bool>& stop_reading) {
  uint64_t expected = 0;
  for (;;) {
    absl::StatusOr<Message> message = in.port->Receive(absl::Milliseconds(100));
    if (message.status().code() == absl::StatusCode::kDeadlineExceeded) {
      if (stop_reading.load()) break;
      continue;
    }
    if (!message.ok()) break;  // UNAVAILABLE: the worker closed the port
    if (in.messages.load(std::memory_order_relaxed) == 0) {
      in.first_message = absl::Now();
    }
    in.last_message = absl::Now();
    std::optional<uint64_t> sequence = CheckPattern(message->data());
    if (!sequence.has_value() || message->fragment_count() != 1) {
      in.corrupt.fetch_add(1, std::memory_order_relaxed);
    } else if (*sequence != expected++) {
      in.out_of_order.fetch_add(1, std::memory_order_relaxed);
      expected = *sequence + 1;
    }
    in.bytes.fetch_add(message->size(), std::memory_order_relaxed);
    in.messages.fetch_add(1, std::memory_order_relaxed);
  }
  in.closed.store(true);
}

class Router {
 public:
  explicit Router(std::unique_ptr<Session> session)
      : session_(std::move(session)) {}

  // Takes ports as workers open them, until Stop.
  void Start() {
    acceptor_ = std::thread([this] {
      while (!stop_accepting_.load()) {
        absl::StatusOr<std::unique_ptr<Port>> port =
            session_->AcceptPort(absl::Milliseconds(100));
        if (!port.ok()) continue;  // DEADLINE_EXCEEDED: nobody came
        auto in = std::make_unique<Inbound>();
        in->peer = (*port)->peer().name;
        in->socket = FdTarget((*port)->fd());
        in->port_id = (*port)->port_id();
        in->port = *std::move(port);
        Inbound* raw = in.get();
        in->reader = std::thread([this, raw] { Drain(*raw, stop_reading_); });
        std::lock_guard<std::mutex> lock(mu_);
        inbound_.push_back(std::move(in));
      }
    });
  }

  // One line: each port's throughput since the last call, and the total.
  std::string Progress(absl::Duration since_start, absl::Duration interval) {
    std::lock_guard<std::mutex> lock(mu_);
    std::string line =
        absl::StrFormat("[%4ds]", absl::ToInt64Seconds(since_start));
    double total = 0;
    for (auto& in : inbound_) {
      const uint64_t bytes = in->bytes.load(std::memory_order_relaxed);
      const double rate = static_cast<double>(bytes - in->last_progress_bytes) /
                          absl::ToDoubleSeconds(interval);
      in->last_progress_bytes = bytes;
      total += rate;
      absl::StrAppend(&line, " ", in->peer, " → ", session_->name(), " ",
                      Rate(rate), in->closed.load() ? " (closed)" : "", " |");
    }
    if (inbound_.empty()) absl::StrAppend(&line, " waiting for workers |");
    absl::StrAppend(&line, " total ", Rate(total));
    return line;
  }

  // Stops accepting, gives the workers `grace` to close their ports (the
  // demo script stops them first), then stops reading and joins.
  void Stop(absl::Duration grace) {
    stop_accepting_.store(true);
    acceptor_.join();
    const absl::Time deadline = absl::Now() + grace;
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& in : inbound_) {
      while (!in->closed.load() && absl::Now() < deadline) {
        absl::SleepFor(absl::Milliseconds(10));
      }
    }
    stop_reading_.store(true);
    for (auto& in : inbound_) in->reader.join();
  }

  // Prints the summary, closes every port, and returns the exit code.
  int Finish(absl::Duration elapsed) {
    uint64_t messages = 0, bytes = 0, corrupt = 0, out_of_order = 0;
    std::printf("\n%s: %zu ports\n", session_->name().c_str(), inbound_.size());
    for (auto& in : inbound_) {
      const uint64_t m = in->messages.load(), b = in->bytes.load();
      const double seconds =
          m == 0 ? 0
                 : absl::ToDoubleSeconds(in->last_message - in->first_message);
      std::printf("  port %lu  %s → %s  %lu messages  %s  %s  (%lu corrupt)\n",
                  static_cast<unsigned long>(in->port_id), in->peer.c_str(),
                  session_->name().c_str(), static_cast<unsigned long>(m),
                  Size(b).c_str(), Rate(seconds > 0 ? b / seconds : 0).c_str(),
                  static_cast<unsigned long>(in->corrupt.load()));
      messages += m;
      bytes += b;
      corrupt += in->corrupt.load();
      out_of_order += in->out_of_order.load();
    }
    const size_t ports = inbound_.size();
    std::vector<std::string> sockets;
    for (auto& in : inbound_) sockets.push_back(in->socket);
    inbound_.clear();  // closes the ports; the messages are long gone
    const int fds_leaked = CountPortFds(sockets);
    const int mappings_left = SegmentMappingCount();
    const std::string summary = absl::StrFormat(
        "summary role=router name=%s ports=%d messages=%d bytes=%d "
        "seconds=%.2f corrupt=%d out_of_order=%d fds_leaked=%d "
        "mappings_left=%d\n",
        session_->name(), ports, messages, bytes,
        absl::ToDoubleSeconds(elapsed), corrupt, out_of_order, fds_leaked,
        mappings_left);
    std::fputs(summary.c_str(), stdout);
    if (const std::string file = absl::GetFlag(FLAGS_summary_file);
        !file.empty()) {
      std::ofstream(file) << summary;
    }
    return corrupt == 0 && out_of_order == 0 ? 0 : 1;
  }

 private:
  std::unique_ptr<Session> session_;
  std::atomic<bool> stop_accepting_{false};
  std::atomic<bool> stop_reading_{false};
  std::thread acceptor_;
  std::mutex mu_;  // guards inbound_ (the list, not the counters)
  std::vector<std::unique_ptr<Inbound>> inbound_;
};

int Run(ShutdownSignals& shutdown) {
  SessionOptions options{.name = absl::GetFlag(FLAGS_name),
                         .labels = {{"role", "router"}},
                         .address = absl::GetFlag(FLAGS_address)};
  // What the daemon says about us and our ports (on the session's thread).
  options.on_port_closed = [](uint64_t port_id, absl::string_view reason) {
    std::printf("router: port %lu closed: %.*s\n",
                static_cast<unsigned long>(port_id),
                static_cast<int>(reason.size()), reason.data());
    std::fflush(stdout);
  };
  options.on_daemon_lost = [](absl::string_view reason) {
    std::printf("router: lost the daemon (%.*s); ports keep working\n",
                static_cast<int>(reason.size()), reason.data());
    std::fflush(stdout);
  };
  options.on_reconnected = [](uint64_t process_id) {
    std::printf("router: registered again as process %lu\n",
                static_cast<unsigned long>(process_id));
    std::fflush(stdout);
  };
  auto session = Session::Connect(options);
  if (!session.ok()) {
    std::fprintf(stderr, "router: cannot register: %s\n",
                 session.status().ToString().c_str());
    return 1;
  }
  std::printf("%s: registered as process %lu, waiting for workers\n",
              (*session)->name().c_str(),
              static_cast<unsigned long>((*session)->process_id()));
  std::fflush(stdout);
  Router router(*std::move(session));
  router.Start();

  // On a terminal the progress line redraws itself; in a log, one per line.
  const bool terminal = ::isatty(STDOUT_FILENO) == 1;
  const absl::Duration interval = absl::GetFlag(FLAGS_progress_interval);
  const absl::Time start = absl::Now();
  while (!shutdown.Wait(interval)) {
    const std::string line = router.Progress(absl::Now() - start, interval);
    std::printf(terminal ? "\r%s\x1b[K" : "%s\n", line.c_str());
    std::fflush(stdout);
  }
  const absl::Duration elapsed = absl::Now() - start;
  router.Stop(/*grace=*/absl::Seconds(5));
  return router.Finish(elapsed);
}

}  // namespace
}  // namespace shmport::examples

int main(int argc, char** argv) {
  // First: the Session's threads must inherit the blocked signals.
  shmport::examples::ShutdownSignals shutdown;
  absl::SetProgramUsageMessage(
      "the demo router: receives from workers until SIGINT/SIGTERM");
  absl::ParseCommandLine(argc, argv);
  return shmport::examples::Run(shutdown);
}
