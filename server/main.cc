// shmportd: the shmport control-plane daemon. See docs/control-plane.md.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/log.h"
#include "server/daemon.h"
#include "server/systemd_notify.h"

ABSL_FLAG(std::string, listen, "",
          "gRPC address to serve: unix:PATH or unix-abstract:NAME. Default: "
          "a socket-activated control socket's path, else $SHMPORT_ADDRESS, "
          "else unix:$XDG_RUNTIME_DIR/shmport/control.sock, else "
          "unix:/tmp/shmport-$UID/control.sock");
ABSL_FLAG(std::string, config, "",
          "text-format shmport.config.v1.DaemonConfig file; default: "
          "built-in single-user defaults");
ABSL_FLAG(std::string, runtime_dir, "",
          "directory for broker.sock and admin.token; default: the control "
          "socket's directory");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warning or error");
ABSL_FLAG(int, ready_fd, -1,
          "when >= 0, write \"ready\\n\" to this inherited fd and close it "
          "once serving (for supervisors and tests)");
ABSL_FLAG(std::string, metrics_listen, "",
          "HOST:PORT to serve Prometheus metrics on (GET /metrics), e.g. "
          "127.0.0.1:9464; overrides config metrics.listen. Default: off");
ABSL_FLAG(bool, metrics_allow_remote, false,
          "allow a non-loopback --metrics_listen host (the metrics name "
          "every process and port)");

namespace {

// `--help` lists this file's flags (absl's default looks for a file named
// after the program, which matches none here and prints "No flags
// matched").
bool IsDaemonFlagFile(absl::string_view file) {
  return absl::EndsWith(file, "server/main.cc");
}

void SetUsage() {
  absl::SetProgramUsageMessage(
      "the shmport control-plane daemon\n\n"
      "  shmportd [--listen=unix:PATH] [--config=FILE] [--log_level=info]\n"
      "           [--metrics_listen=127.0.0.1:9464]\n\n"
      "Stops cleanly on SIGTERM or SIGINT. Under systemd: Type=notify, and "
      "the control and broker sockets may be socket-activated "
      "(FileDescriptorName=control / broker).");
  absl::FlagsUsageConfig config;
  config.contains_helpshort_flags = &IsDaemonFlagFile;
  config.contains_help_flags = &IsDaemonFlagFile;
  absl::SetFlagsUsageConfig(config);
}

// Lets every open port and link have its fd: the load target is a thousand
// processes, each with a link and a pidfd.
void RaiseFdLimit() {
  rlimit limit;
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 &&
      limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// The STATUS= line a service manager shows.
std::string ServingStatus(const shmport::server::Daemon& daemon) {
  std::string status = absl::StrCat("serving ", daemon.paths().control_address);
  if (const std::string metrics = daemon.metrics_address(); !metrics.empty()) {
    absl::StrAppend(&status, ", metrics on http://", metrics, "/metrics");
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  SetUsage();
  absl::ParseCommandLine(argc, argv);
  // gRPC's locks are absl::Mutex; a debug-mode Abseil (Debian's) checks
  // every acquisition for lock-order cycles under one process-wide lock,
  // which serialised the daemon's gRPC threads (~3% of its CPU at 10,000
  // processes). Our own locks (common/mutex.h) are checked at compile time.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  shmport::LogLevel level;
  if (!shmport::ParseLogLevel(absl::GetFlag(FLAGS_log_level), &level)) {
    std::fprintf(stderr,
                 "shmportd: --log_level=%s: use debug, info, warning "
                 "or error\n",
                 absl::GetFlag(FLAGS_log_level).c_str());
    return 2;
  }
  shmport::SetLogLevel(level);
  RaiseFdLimit();

  // Block the stop signals in every thread (threads inherit the mask), so
  // that only sigwait below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  shmport::server::DaemonOptions options;
  options.listen_address = absl::GetFlag(FLAGS_listen);
  options.config_path = absl::GetFlag(FLAGS_config);
  options.runtime_dir = absl::GetFlag(FLAGS_runtime_dir);
  options.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  options.metrics_allow_remote = absl::GetFlag(FLAGS_metrics_allow_remote);
  options.socket_activation = true;
  auto daemon = shmport::server::Daemon::Start(options);
  if (!daemon.ok()) {
    shmport::Log(shmport::LogLevel::kError, "daemon_start_failed",
                 {{"error", daemon.status().ToString()}});
    return 1;
  }
  if (const int fd = absl::GetFlag(FLAGS_ready_fd); fd >= 0) {
    [[maybe_unused]] ssize_t n = ::write(fd, "ready\n", 6);
    ::close(fd);
  }
  shmport::server::NotifyReady(ServingStatus(**daemon));

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  shmport::Log(shmport::LogLevel::kInfo, "signal_received",
               {{"signal", signal_number}});
  shmport::server::NotifyStopping(
      absl::StrCat("stopping (signal ", signal_number, ")"));
  // The 2 s promise: 1.5 s for calls in flight, the rest for closing.
  (*daemon)->Shutdown(absl::Milliseconds(1500));
  daemon->reset();
  return 0;
}
