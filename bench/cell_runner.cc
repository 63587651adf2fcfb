#include "bench/cell_runner.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "bench/forked_process.h"
#include "bench/payload.h"
#include "shmport/unique_fd.h"

namespace shmport::bench {
namespace {

// Room beyond the workload's own time for process start, connection set-up
// (a gRPC server start) and teardown.
constexpr absl::Duration kCellSlack = absl::Seconds(60);

static_assert(sizeof(RoleReport) <= PIPE_BUF,
              "a report must cross its pipe in one atomic write");

absl::Status Errno(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

const char* SideName(Side side) {
  return side == Side::kSender ? "sender" : "receiver";
}

// The two pipes between the parent and one child.
struct ChildPipes {
  UniqueFd command_read, command_write;  // parent -> child: the peer's pid
  UniqueFd report_read, report_write;    // child -> parent: RoleReport

  absl::Status Create() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return Errno("pipe2");
    command_read.Reset(fds[0]);
    command_write.Reset(fds[1]);
    if (pipe2(fds, O_CLOEXEC) != 0) return Errno("pipe2");
    report_read.Reset(fds[0]);
    report_write.Reset(fds[1]);
    return absl::OkStatus();
  }
  void CloseAll() {
    command_read.Reset();
    command_write.Reset();
    report_read.Reset();
    report_write.Reset();
  }
};

bool ReadExactly(int fd, void* out, size_t n) {
  auto* p = static_cast<uint8_t*>(out);
  while (n > 0) {
    const ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

// Runs this process on `cpu` only; -1 leaves it where it is.
absl::Status PinToCpu(int cpu) {
  if (cpu < 0) return absl::OkStatus();
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--cpus: cannot run on CPU ", cpu, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

// The body of a child: wait for the peer's pid, connect, run the role, and
// report. The endpoint is gone (connection closed) before the report is
// written, so a report means the child's side finished cleanly.
int ChildMain(Connection& connection, Side side, Mode mode,
              const WorkloadConfig& config, ChildPipes& mine,
              ChildPipes& other) {
  // A peer that died makes writes fail with EPIPE, not kill this process.
  signal(SIGPIPE, SIG_IGN);
  other.CloseAll();
  mine.command_write.Reset();
  mine.report_read.Reset();
  RoleReport report;
  pid_t peer = 0;
  absl::Status status = PinToCpu(config.cpus[static_cast<int>(side)]);
  if (status.ok() &&
      !ReadExactly(mine.command_read.get(), &peer, sizeof(peer))) {
    status = absl::AbortedError("parent never sent the peer's pid");
  } else if (status.ok()) {
    absl::StatusOr<std::unique_ptr<Endpoint>> endpoint =
        connection.Open(side, peer);
    if (!endpoint.ok()) {
      status = endpoint.status();
    } else {
      status = RunRole(mode, side, **endpoint, config, report);
      endpoint->reset();
    }
  }
  SetOutcome(status, report);
  if (write(mine.report_write.get(), &report, sizeof(report)) !=
      static_cast<ssize_t>(sizeof(report))) {
    return 3;
  }
  return status.ok() ? 0 : 1;
}

// After one child fails, how long the other may take to report its side of
// the story (often the consequence, e.g. EPIPE, but sometimes the cause).
constexpr absl::Duration kFailureGrace = absl::Seconds(2);

// Collects both children's reports, stopping at the deadline, or shortly
// after the first failure. reports[i] stays empty for a child that did not
// report. Returns every failure, in the order they arrived.
absl::Status CollectReports(std::array<ChildPipes, 2>& pipes,
                            std::array<std::optional<RoleReport>, 2>& reports,
                            absl::Time deadline) {
  std::array<bool, 2> open = {true, true};
  std::vector<std::string> failures;
  while (open[0] || open[1]) {
    pollfd pfds[2];
    int n = 0;
    int which[2];
    for (int i = 0; i < 2; ++i) {
      if (!open[i]) continue;
      pfds[n] = {
          .fd = pipes[i].report_read.get(), .events = POLLIN, .revents = 0};
      which[n++] = i;
    }
    const int64_t ms =
        std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now()));
    const int ready = poll(pfds, n, static_cast<int>(ms));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return Errno("poll(report pipes)");
    if (ready == 0) {
      if (failures.empty()) {
        return absl::DeadlineExceededError("cell overran its deadline");
      }
      break;
    }
    for (int k = 0; k < n; ++k) {
      if (pfds[k].revents == 0) continue;
      const int i = which[k];
      const char* side = SideName(static_cast<Side>(i));
      open[i] = false;
      RoleReport report;
      if (!ReadExactly(pfds[k].fd, &report, sizeof(report))) {
        failures.push_back(absl::StrCat(side, ": ended without a report"));
      } else {
        report.error[sizeof(report.error) - 1] = '\0';
        reports[i] = report;
        if (!report.ok)
          failures.push_back(absl::StrCat(side, ": ", report.error));
      }
      if (!failures.empty()) {
        deadline = std::min(deadline, absl::Now() + kFailureGrace);
      }
    }
  }
  if (failures.empty()) return absl::OkStatus();
  return absl::AbortedError(absl::StrJoin(failures, "; then "));
}

CellMeasurement Summarise(Mode mode, const WorkloadConfig& config,
                          const RoleReport& report) {
  CellMeasurement m;
  m.messages = report.messages;
  m.seconds = report.seconds;
  if (report.seconds > 0) {
    m.msgs_per_s = static_cast<double>(report.messages) / report.seconds;
  }
  const double per_message = static_cast<double>(config.payload_bytes) *
                             (mode == Mode::kPingPong ? 2 : 1);
  m.gbytes_per_s = m.msgs_per_s * per_message / 1e9;
  if (mode == Mode::kPingPong) {
    m.p50_us = report.p50_us;
    m.p99_us = report.p99_us;
    m.p999_us = report.p999_us;
    m.max_us = report.max_us;
  }
  return m;
}

}  // namespace

absl::StatusOr<CellMeasurement> RunCell(const Transport& transport, Mode mode,
                                        const WorkloadConfig& config) {
  if (absl::Status s = ValidatePayloadSize(config.payload_bytes); !s.ok()) {
    return s;
  }
  absl::StatusOr<std::unique_ptr<Connection>> connection =
      transport.Connect(config.payload_bytes);
  if (!connection.ok()) return connection.status();
  std::array<ChildPipes, 2> pipes;  // [0] sender, [1] receiver
  for (ChildPipes& p : pipes) {
    if (absl::Status s = p.Create(); !s.ok()) return s;
  }

  std::vector<ForkedProcess> children;
  for (int i = 0; i < 2; ++i) {
    const Side side = static_cast<Side>(i);
    absl::StatusOr<ForkedProcess> child = ForkedProcess::Start([&, i, side] {
      return ChildMain(**connection, side, mode, config, pipes[i],
                       pipes[1 - i]);
    });
    if (!child.ok()) return child.status();
    children.push_back(std::move(*child));
  }
  // The parent keeps no end of the connection: a child's EOF must mean its
  // peer is gone.
  connection->reset();
  for (int i = 0; i < 2; ++i) {
    pipes[i].command_read.Reset();
    pipes[i].report_write.Reset();
    const pid_t peer = children[1 - i].pid();
    if (write(pipes[i].command_write.get(), &peer, sizeof(peer)) !=
        static_cast<ssize_t>(sizeof(peer))) {
      return Errno("write(command pipe)");
    }
  }

  absl::Duration budget = config.warmup + config.duration;
  if (mode == Mode::kPingPong) budget = config.warmup + config.max_duration;
  const absl::Time deadline = absl::Now() + budget + kCellSlack;
  std::array<std::optional<RoleReport>, 2> reports;
  absl::Status collected = CollectReports(pipes, reports, deadline);
  if (!collected.ok()) {
    for (ForkedProcess& child : children) child.Kill();
    return absl::Status(
        collected.code(),
        absl::StrCat(transport.name(), " ",
                     mode == Mode::kThroughput ? "throughput" : "pingpong", " ",
                     config.payload_bytes, " B: ", collected.message()));
  }
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<std::string> ended =
        children[i].Wait(absl::Now() + absl::Seconds(10));
    if (!ended.ok()) return ended.status();
    if (*ended != "exit 0") {
      return absl::AbortedError(absl::StrCat(SideName(static_cast<Side>(i)),
                                             " reported but then ended with ",
                                             *ended));
    }
  }
  const RoleReport& measured =
      mode == Mode::kThroughput ? *reports[1] : *reports[0];
  return Summarise(mode, config, measured);
}

}  // namespace shmport::bench
