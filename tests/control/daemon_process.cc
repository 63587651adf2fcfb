#include "tests/control/daemon_process.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/channel_arguments.h"
#include "tests/util/fd_wait.h"
#include "tests/util/runfiles.h"

namespace shmport::testing {
namespace {

bool IsExecutable(const std::string& path) {
  return !path.empty() && ::access(path.c_str(), X_OK) == 0;
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exit ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return absl::StrCat("signal ", WTERMSIG(status));
  return absl::StrCat("status ", status);
}

}  // namespace

std::string DaemonProcess::FindDaemonBinary() {
  if (const char* env = ::getenv("SHMPORTD"); env != nullptr && *env) {
    return env;
  }
  return FindRunfile("server/shmportd");
}

absl::StatusOr<std::unique_ptr<DaemonProcess>> DaemonProcess::Start(
    const DaemonProcessOptions& options) {
  std::unique_ptr<DaemonProcess> d(new DaemonProcess());
  std::string binary =
      options.binary.empty() ? FindDaemonBinary() : options.binary;
  if (!IsExecutable(binary)) {
    return absl::NotFoundError(
        absl::StrCat("no shmportd at ", binary,
                     " (add data = [\"//server:shmportd\"] or set $SHMPORTD)"));
  }
  if (options.run_as.has_value()) {
    absl::StatusOr<std::unique_ptr<BinaryCopy>> copy = BinaryCopy::Make(binary);
    if (!copy.ok()) return copy.status();
    d->copy_ = *std::move(copy);
    binary = d->copy_->path();
  }
  if (options.directory.empty()) {
    char tmpl[] = "/tmp/shmport-tXXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      return absl::InternalError(
          absl::StrCat("mkdtemp: ", std::strerror(errno)));
    }
    d->directory_ = tmpl;
    d->owns_directory_ = true;
  } else {
    d->directory_ = options.directory;
  }
  d->address_ = absl::StrCat("unix:", d->directory_, "/control.sock");

  std::vector<std::string> args = {
      binary, absl::StrCat("--listen=", d->address_),
      absl::StrCat("--log_level=", options.log_level)};
  if (!options.config_text.empty()) {
    const std::string path = d->directory_ + "/shmportd.textproto";
    std::ofstream(path) << options.config_text;
    args.push_back(absl::StrCat("--config=", path));
  }
  args.insert(args.end(), options.extra_args.begin(), options.extra_args.end());

  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
  }
  UniqueFd ready_read(ready[0]);
  UniqueFd ready_write(ready[1]);
  args.push_back(absl::StrCat("--ready_fd=", ready_write.get()));
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  UniqueFd log_fd;
  if (!options.log_path.empty()) {
    log_fd.Reset(::open(options.log_path.c_str(),
                        O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!log_fd) {
      return absl::InternalError(
          absl::StrCat("open ", options.log_path, ": ", std::strerror(errno)));
    }
  }
  const rlimit fd_limit{static_cast<rlim_t>(options.fd_limit),
                        static_cast<rlim_t>(options.fd_limit)};

  const pid_t pid = ::fork();
  if (pid < 0) {
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    const int flags = ::fcntl(ready[1], F_GETFD);
    ::fcntl(ready[1], F_SETFD, flags & ~FD_CLOEXEC);
    if (log_fd) ::dup2(log_fd.get(), STDERR_FILENO);
    if (options.fd_limit > 0) ::setrlimit(RLIMIT_NOFILE, &fd_limit);
    if (options.run_as.has_value() &&
        !BecomeUser(options.run_as->uid, options.run_as->gid)) {
      ::_exit(126);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  d->pid_ = pid;
  log_fd.Reset();
  d->pidfd_.Reset(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  ready_write.Reset();

  // The daemon writes "ready" once it serves, or closes the pipe by dying.
  const absl::Time deadline = absl::Now() + options.ready_timeout;
  char buffer[16];
  ssize_t got = 0;
  do {
    if (!WaitReadable(ready_read.get(), deadline)) {
      d->Kill(SIGKILL);
      return absl::DeadlineExceededError(
          absl::StrCat("shmportd did not become ready within ",
                       absl::FormatDuration(options.ready_timeout)));
    }
    got = ::read(ready_read.get(), buffer, sizeof(buffer));
  } while (got < 0 && errno == EINTR);
  if (got <= 0) {
    absl::StatusOr<int> code = d->WaitForExit(absl::Seconds(5));
    return absl::FailedPreconditionError(absl::StrCat(
        "shmportd exited before it was ready (",
        DescribeWaitStatus(d->exit_status_), "); see its log line above"));
  }
  if (absl::Status s =
          d->CheckHealth(PollTimeoutMs(deadline) > 0 ? deadline - absl::Now()
                                                     : absl::Seconds(1));
      !s.ok()) {
    d->Kill(SIGKILL);
    return s;
  }
  return d;
}

DaemonProcess::~DaemonProcess() {
  if (running()) Kill(SIGKILL);
  if (owns_directory_) {
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }
}

absl::StatusOr<std::string> DaemonProcess::AdminToken() const {
  std::ifstream in(directory_ + "/admin.token");
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read ", directory_, "/admin.token"));
  }
  std::string token;
  std::getline(in, token);
  return token;
}

namespace {

// Each stub gets its own connection: gRPC's global subchannel pool would
// otherwise hand a new channel the dead connection of a daemon that was
// stopped and restarted on the same address.
std::shared_ptr<grpc::Channel> PrivateChannel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                   args);
}

}  // namespace

std::unique_ptr<v1::ControlPlane::Stub> DaemonProcess::NewStub() const {
  return v1::ControlPlane::NewStub(PrivateChannel(address_));
}

absl::Status DaemonProcess::CheckHealth(absl::Duration timeout) const {
  // No generated health stub ships with Debian's grpc++: call the method
  // generically. HealthCheckRequest{service: ""} is the empty message;
  // HealthCheckResponse{status: SERVING} is field 1 = 1, bytes 08 01.
  grpc::GenericStub stub(PrivateChannel(address_));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  context.set_wait_for_ready(true);
  grpc::CompletionQueue cq;
  grpc::ByteBuffer request;
  grpc::Slice empty;
  request = grpc::ByteBuffer(&empty, 1);
  auto call = stub.PrepareUnaryCall(&context, "/grpc.health.v1.Health/Check",
                                    request, &cq);
  call->StartCall();
  grpc::ByteBuffer response;
  grpc::Status status;
  call->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  cq.Next(&tag, &ok);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  if (!status.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "health check of ", address_, " failed: ", status.error_message()));
  }
  std::vector<grpc::Slice> slices;
  (void)response.Dump(&slices);
  std::string bytes;
  for (const grpc::Slice& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  if (bytes != std::string("\x08\x01", 2)) {
    return absl::UnavailableError(
        absl::StrCat("health check of ", address_, " is not SERVING"));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> DaemonProcess::WaitForExit(absl::Duration timeout) {
  if (reaped_) {
    if (WIFEXITED(exit_status_)) return WEXITSTATUS(exit_status_);
    return absl::InternalError(
        absl::StrCat("shmportd ended by ", DescribeWaitStatus(exit_status_)));
  }
  if (pidfd_ && !WaitReadable(pidfd_.get(), absl::Now() + timeout)) {
    return absl::DeadlineExceededError(
        absl::StrCat("shmportd (pid ", pid_, ") did not exit within ",
                     absl::FormatDuration(timeout)));
  }
  while (::waitpid(pid_, &exit_status_, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  if (WIFEXITED(exit_status_)) return WEXITSTATUS(exit_status_);
  return absl::InternalError(
      absl::StrCat("shmportd ended by ", DescribeWaitStatus(exit_status_)));
}

absl::StatusOr<int> DaemonProcess::Stop(absl::Duration timeout) {
  if (!running()) return WaitForExit(absl::ZeroDuration());
  ::kill(pid_, SIGTERM);
  absl::StatusOr<int> code = WaitForExit(timeout);
  if (absl::IsDeadlineExceeded(code.status())) Kill(SIGKILL);
  return code;
}

void DaemonProcess::Kill(int signal) {
  if (!running()) return;
  ::kill(pid_, signal);
  (void)WaitForExit(absl::Seconds(30));
}

}  // namespace shmport::testing
