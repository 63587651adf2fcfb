#include "bench/grpc_transport.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/grpc_bench.grpc.pb.h"
#include "bench/grpc_bench.pb.h"
#include "grpc/grpc.h"
#include "grpcpp/grpcpp.h"
#include "shmport/unique_fd.h"

namespace shmport::bench {
namespace {

using v1::Chunk;

// How long a side waits for the other to show up (server start, stream).
constexpr absl::Duration kConnectTimeout = absl::Seconds(30);

absl::Status Errno(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

// The four Endpoint calls on either end of the stream. Both ends reuse one
// outgoing and one incoming Chunk, so the bytes field keeps its capacity
// and a message costs gRPC's serialisation and parse copies, not an
// allocation.
template <typename Stream>
class StreamEndpoint : public Endpoint {
 public:
  explicit StreamEndpoint(size_t payload_bytes)
      : payload_bytes_(payload_bytes) {}

  absl::StatusOr<absl::Span<uint8_t>> PrepareSend() override {
    std::string* data = out_.mutable_data();
    if (data->size() != payload_bytes_) data->resize(payload_bytes_);
    return absl::Span<uint8_t>(reinterpret_cast<uint8_t*>(data->data()),
                               payload_bytes_);
  }

  absl::Status Send() override {
    if (!stream_->Write(out_)) {
      return absl::UnavailableError("grpc: stream closed on Write");
    }
    return absl::OkStatus();
  }

  absl::StatusOr<absl::Span<const uint8_t>> Receive() override {
    if (!stream_->Read(&in_)) {
      return absl::UnavailableError("grpc: stream closed on Read");
    }
    if (in_.data().size() != payload_bytes_) {
      return absl::DataLossError(
          absl::StrCat("grpc message of ", in_.data().size(),
                       " bytes, expected ", payload_bytes_));
    }
    return absl::Span<const uint8_t>(
        reinterpret_cast<const uint8_t*>(in_.data().data()), payload_bytes_);
  }

  void Release() override {}

 protected:
  Stream* stream_ = nullptr;

 private:
  size_t payload_bytes_;
  Chunk out_;
  Chunk in_;
};

// Hands the one incoming stream from gRPC's handler thread to the thread
// that runs the workload, and holds the handler until the workload is done
// (a sync handler's stream dies when the handler returns).
class ExchangeService final : public v1::TransportBench::Service {
 public:
  grpc::Status Exchange(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<Chunk, Chunk>* stream) override {
    std::unique_lock<std::mutex> lock(mu_);
    if (stream_ != nullptr) {
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          "benchmark server takes one stream");
    }
    stream_ = stream;
    changed_.notify_all();
    changed_.wait(lock, [this] { return done_; });
    return grpc::Status::OK;
  }

  // The stream, once a client opened it; nullptr after `timeout`.
  grpc::ServerReaderWriter<Chunk, Chunk>* WaitForStream(
      absl::Duration timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                      [this] { return stream_ != nullptr; });
    return stream_;
  }

  // Lets the handler return (ends the RPC with OK).
  void Finish() {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mu_;  // guards stream_ and done_
  std::condition_variable changed_;
  grpc::ServerReaderWriter<Chunk, Chunk>* stream_ = nullptr;
  bool done_ = false;
};

class ServerEndpoint
    : public StreamEndpoint<grpc::ServerReaderWriter<Chunk, Chunk>> {
 public:
  ServerEndpoint(size_t payload_bytes, std::string socket_path)
      : StreamEndpoint(payload_bytes), socket_path_(std::move(socket_path)) {}

  ~ServerEndpoint() override {
    service_.Finish();
    if (server_ != nullptr) {
      server_->Shutdown(std::chrono::system_clock::now() +
                        std::chrono::seconds(5));
    }
    unlink(socket_path_.c_str());
  }

  // Starts listening, tells the client through `ready`, and waits for its
  // stream.
  absl::Status Start(UniqueFd ready) {
    unlink(socket_path_.c_str());  // a stale socket from a killed run
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + socket_path_,
                             grpc::InsecureServerCredentials());
    builder.SetMaxReceiveMessageSize(kGrpcMaxMessageBytes);
    builder.SetMaxSendMessageSize(kGrpcMaxMessageBytes);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    if (server_ == nullptr) {
      return absl::UnavailableError(
          absl::StrCat("grpc server failed to listen on unix:", socket_path_));
    }
    const char byte = 1;
    if (write(ready.get(), &byte, 1) != 1) return Errno("write(ready pipe)");
    ready.Reset();
    stream_ = service_.WaitForStream(kConnectTimeout);
    if (stream_ == nullptr) {
      return absl::DeadlineExceededError(
          absl::StrCat("no grpc client opened a stream within ",
                       absl::FormatDuration(kConnectTimeout)));
    }
    return absl::OkStatus();
  }

 private:
  std::string socket_path_;
  ExchangeService service_;
  std::unique_ptr<grpc::Server> server_;
};

class ClientEndpoint
    : public StreamEndpoint<grpc::ClientReaderWriter<Chunk, Chunk>> {
 public:
  explicit ClientEndpoint(size_t payload_bytes)
      : StreamEndpoint(payload_bytes) {}

  ~ClientEndpoint() override {
    if (owned_stream_ != nullptr) {
      owned_stream_->WritesDone();
      owned_stream_->Finish().ok();
    }
  }

  // Waits for the server's `ready` byte, then opens the stream.
  absl::Status Start(UniqueFd ready, const std::string& socket_path) {
    pollfd pfd = {.fd = ready.get(), .events = POLLIN, .revents = 0};
    const int n = poll(&pfd, 1, absl::ToInt64Milliseconds(kConnectTimeout));
    if (n < 0) return Errno("poll(ready pipe)");
    char byte = 0;
    if (n == 0 || read(ready.get(), &byte, 1) != 1) {
      return absl::UnavailableError(
          "grpc server never became ready (it failed or exited)");
    }
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(kGrpcMaxMessageBytes);
    args.SetMaxSendMessageSize(kGrpcMaxMessageBytes);
    channel_ = grpc::CreateCustomChannel(
        "unix:" + socket_path, grpc::InsecureChannelCredentials(), args);
    stub_ = v1::TransportBench::NewStub(channel_);
    owned_stream_ = stub_->Exchange(&context_);
    stream_ = owned_stream_.get();
    return absl::OkStatus();
  }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::TransportBench::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<Chunk, Chunk>> owned_stream_;
};

class GrpcConnection : public Connection {
 public:
  GrpcConnection(std::string socket_path, UniqueFd ready_read,
                 UniqueFd ready_write, size_t payload_bytes)
      : socket_path_(std::move(socket_path)),
        ready_read_(std::move(ready_read)),
        ready_write_(std::move(ready_write)),
        payload_bytes_(payload_bytes) {}

  absl::StatusOr<std::unique_ptr<Endpoint>> Open(Side side,
                                                 pid_t peer_pid) override {
    // An extra reference on the library, never dropped: otherwise the last
    // gRPC object's destructor runs grpc_shutdown(), which can wait up to
    // 10 s for I/O objects still being released; the child exits right
    // after the workload anyway.
    grpc_init();
    if (side == Side::kReceiver) {
      ready_read_.Reset();
      auto endpoint =
          std::make_unique<ServerEndpoint>(payload_bytes_, socket_path_);
      absl::Status status = endpoint->Start(std::move(ready_write_));
      if (!status.ok()) return status;
      return endpoint;
    }
    // Without the write end, the client's read sees EOF if the server dies.
    ready_write_.Reset();
    auto endpoint = std::make_unique<ClientEndpoint>(payload_bytes_);
    absl::Status status = endpoint->Start(std::move(ready_read_), socket_path_);
    if (!status.ok()) return status;
    return endpoint;
  }

 private:
  std::string socket_path_;
  UniqueFd ready_read_;
  UniqueFd ready_write_;
  size_t payload_bytes_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Connection>> GrpcTransport::Connect(
    size_t payload_bytes) const {
  static std::atomic<uint64_t> counter{0};
  std::string path = absl::StrCat("/tmp/shmport-bench-", getpid(), "-",
                                  counter.fetch_add(1), ".sock");
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Errno("pipe2");
  return std::make_unique<GrpcConnection>(std::move(path), UniqueFd(fds[0]),
                                          UniqueFd(fds[1]), payload_bytes);
}

}  // namespace shmport::bench
