// A fixed-count driver of one Port pair (two processes over a socketpair) for
// instruction counts under callgrind: `port_driver MODE COUNT BYTES
// [spin|busy]`, MODE oneway | pingpong. The steady state is RunSender /
// RunReceiver / RunPinger / RunPonger (--toggle-collect on them, warm-up
// included); the COUNT messages after the warm-up alone make a dump of their
// own
// (<valgrind/callgrind.h>; hot_path.py reads it). `spin` busy-polls
// the ring 1 ms before sleeping, `busy` 600 s (a receiver that never sleeps:
// the steady state of a busy-poll run, no RING_WAKE on the socket).
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_ZERO_STATS
#define CALLGRIND_DUMP_STATS_AT(x)
#endif

#if __has_include("shmport/port.h")
#include "shmport/port.h"
#include "shmport/unique_fd.h"
#else
#include "client/port.h"
#include "common/unique_fd.h"
#endif

namespace {

using shmport::Message;
using shmport::Port;

constexpr int kWarmup = 2000;

void Check(const absl::Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

void SendOne(Port& port, size_t bytes, uint64_t seq) {
  auto buffer = port.Allocate(bytes);
  Check(buffer.status(), "Allocate");
  std::memcpy(buffer->data(), &seq, sizeof(seq));
  Check(port.Send(1, *std::move(buffer)), "Send");
}

uint64_t ReceiveOne(Port& port) {
  auto message = port.Receive(absl::Seconds(600));
  Check(message.status(), "Receive");
  uint64_t seq;
  std::memcpy(&seq, message->data().data(), sizeof(seq));
  return seq;
}

__attribute__((noinline)) void RunSender(Port& port, int n, size_t bytes) {
  for (int i = 0; i < n; ++i) SendOne(port, bytes, i);
}

__attribute__((noinline)) uint64_t RunReceiver(Port& port, int n) {
  uint64_t sum = 0;
  for (int i = 0; i < n; ++i) sum += ReceiveOne(port);
  return sum;
}

__attribute__((noinline)) void RunPinger(Port& port, int n, size_t bytes) {
  for (int i = 0; i < n; ++i) {
    SendOne(port, bytes, i);
    if (ReceiveOne(port) != static_cast<uint64_t>(i)) std::abort();
  }
}

__attribute__((noinline)) void RunPonger(Port& port, int n, size_t bytes) {
  for (int i = 0; i < n; ++i) SendOne(port, bytes, ReceiveOne(port));
}

// The measured phase: under callgrind, its costs and call counts alone go
// to a dump of their own (a client request; nothing otherwise).
void BeginMeasured() { CALLGRIND_ZERO_STATS; }
void EndMeasured() { CALLGRIND_DUMP_STATS_AT("measured"); }

__attribute__((noinline)) void MeasuredSender(Port& port, int n, size_t bytes) {
  BeginMeasured();
  RunSender(port, n, bytes);
  EndMeasured();
}
__attribute__((noinline)) uint64_t MeasuredReceiver(Port& port, int n) {
  BeginMeasured();
  const uint64_t sum = RunReceiver(port, n);
  EndMeasured();
  return sum;
}
__attribute__((noinline)) void MeasuredPinger(Port& port, int n, size_t bytes) {
  BeginMeasured();
  RunPinger(port, n, bytes);
  EndMeasured();
}
__attribute__((noinline)) void MeasuredPonger(Port& port, int n, size_t bytes) {
  BeginMeasured();
  RunPonger(port, n, bytes);
  EndMeasured();
}

double CpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec +
         1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

double WallSeconds() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

// PORT_DRIVER_REPORT: each process prints its CPU and wall ns per message.
void Report(const char* role, int n, double cpu0, double wall0) {
  if (std::getenv("PORT_DRIVER_REPORT") == nullptr) return;
  std::fprintf(stderr, "%s cpu_ns=%.1f wall_ns=%.1f\n", role,
               (CpuSeconds() - cpu0) / n * 1e9,
               (WallSeconds() - wall0) / n * 1e9);
}

// PORT_DRIVER_THREAD: start (and join) one thread first, which makes the
// process multi-threaded for glibc and libstdc++ from then on.
void MaybeThread() {
  if (std::getenv("PORT_DRIVER_THREAD") != nullptr) std::thread([] {}).join();
}

// PORT_DRIVER_MAPS=PREFIX: this process's /proc/self/maps goes to
// PREFIX.PID (to map callgrind's addresses to instructions).
void DumpMaps() {
  const char* prefix = std::getenv("PORT_DRIVER_MAPS");
  if (prefix == nullptr) return;
  std::ifstream in("/proc/self/maps");
  std::ofstream out(std::string(prefix) + "." + std::to_string(getpid()));
  out << in.rdbuf();
}

std::unique_ptr<Port> OpenEnd(int fd, pid_t peer_pid, absl::Duration spin) {
  shmport::PeerIdentity peer;
  peer.pid = peer_pid;
  peer.uid = getuid();
  shmport::PortOptions options;
  options.receive_spin = spin;
  auto port = Port::Open(shmport::UniqueFd(fd), peer, options);
  Check(port.status(), "Open");
  return *std::move(port);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s oneway|pingpong COUNT BYTES [spin|busy]\n",
                 argv[0]);
    return 2;
  }
  const std::string mode = argv[1];
  const int n = std::atoi(argv[2]);
  const size_t bytes = std::strtoul(argv[3], nullptr, 0);
  const std::string wait = argc > 4 ? argv[4] : "";
  const absl::Duration spin = wait == "spin"   ? absl::Milliseconds(1)
                              : wait == "busy" ? absl::Seconds(600)
                                               : absl::ZeroDuration();
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
    return 1;
  }
  const pid_t parent = getpid();
  const pid_t child = fork();
  if (child == 0) {
    close(fds[0]);
    MaybeThread();
    auto port = OpenEnd(fds[1], parent, spin);
    if (mode == "oneway") {
      RunReceiver(*port, kWarmup);
      const double c = CpuSeconds(), w = WallSeconds();
      MeasuredReceiver(*port, n);
      Report("receiver", n, c, w);
    } else {
      RunPonger(*port, kWarmup, bytes);
      const double c = CpuSeconds(), w = WallSeconds();
      MeasuredPonger(*port, n, bytes);
      Report("ponger", n, c, w);
    }
    SendOne(*port, 8, 0);  // done
    DumpMaps();
    port.reset();
    _exit(0);
  }
  close(fds[1]);
  MaybeThread();
  auto port = OpenEnd(fds[0], child, spin);
  if (mode == "oneway") {
    RunSender(*port, kWarmup, bytes);
    const double c = CpuSeconds(), w = WallSeconds();
    MeasuredSender(*port, n, bytes);
    Report("sender", n, c, w);
  } else {
    RunPinger(*port, kWarmup, bytes);
    const double c = CpuSeconds(), w = WallSeconds();
    MeasuredPinger(*port, n, bytes);
    Report("pinger", n, c, w);
  }
  ReceiveOne(*port);
  DumpMaps();
  port.reset();
  int status = 0;
  waitpid(child, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
