// A client the security tests run under another uid (ForeignProcess). It
// reads one command per line on stdin and answers each with one line on
// stdout, "ok [detail]" or "error <CODE> <message>" (CODE: a status code
// name, or an errno name for file-system commands). It exits at EOF.
//
//   whoami                  ok <uid> <gid>
//   read PATH               open(PATH, O_RDONLY)
//   connect_socket PATH     connect(2) to a unix SOCK_STREAM socket
//   connect NAME            Session::Connect: Register + attach the link
//   open PEER               OpenPort from that session; keeps the port
//   send TEXT               SendCopy TEXT on the last port
//   receive                 Receive on the last port: ok <text>
//   raw_register NAME       Register only (no attach): ok <id> <token>
//   open_from ID PEER       OpenPort claiming to be process ID, with the
//                           token of this process's raw registration
//   attach BROKER ID TOKEN  BrokerLink::Attach to someone's registration
//   hold, closed, release, flood_attach: see hostile_sockets.h
//   register_flood NAME N [PID]
//                           N Registers of NAME declaring PID (default:
//                           this process), never attached:
//                           ok <accepted> <refused> [<last error code>]
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "client/broker_link.h"
#include "common/grpc_status.h"
#include "grpcpp/create_channel.h"
#include "shmport/session.h"
#include "shmport/v1/control.grpc.pb.h"
#include "tests/security/hostile_sockets.h"

ABSL_FLAG(std::string, address, "", "the daemon's gRPC address");

namespace {

using shmport::BrokerLink;
using shmport::FromGrpcStatus;
using shmport::Port;
using shmport::Session;

std::string ErrorLine(const absl::Status& s) {
  return absl::StrCat("error ", absl::StatusCodeToString(s.code()), " ",
                      s.message());
}

std::string ErrnoLine(int error) {
  const char* name = strerrorname_np(error);
  return absl::StrCat("error ", name != nullptr ? name : "E?", " ",
                      std::strerror(error));
}

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(10));
  return context;
}

class Client {
 public:
  std::string Run(const std::string& line) {
    std::istringstream in(line);
    std::string command;
    in >> command;
    if (command == "whoami") {
      return absl::StrCat("ok ", ::getuid(), " ", ::getgid());
    }
    if (command == "read") {
      std::string path;
      in >> path;
      const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) return ErrnoLine(errno);
      ::close(fd);
      return "ok";
    }
    if (command == "connect_socket") {
      std::string path;
      in >> path;
      return ConnectSocket(path);
    }
    if (command == "connect") {
      shmport::SessionOptions options;
      in >> options.name;
      options.address = absl::GetFlag(FLAGS_address);
      options.rpc_timeout = absl::Seconds(5);
      auto session = Session::Connect(options);
      if (!session.ok()) return ErrorLine(session.status());
      session_ = *std::move(session);
      return absl::StrCat("ok ", session_->process_id());
    }
    if (command == "open") {
      std::string peer;
      in >> peer;
      if (session_ == nullptr) return "error FAILED_PRECONDITION no session";
      auto port = session_->OpenPort(peer);
      if (!port.ok()) return ErrorLine(port.status());
      port_ = *std::move(port);
      return absl::StrCat("ok ", port_->port_id());
    }
    if (command == "send") {
      std::string text;
      std::getline(in >> std::ws, text);
      if (port_ == nullptr) return "error FAILED_PRECONDITION no port";
      absl::Status s = port_->SendCopy(
          1, absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(text.data()),
                                 text.size()));
      return s.ok() ? "ok" : ErrorLine(s);
    }
    if (command == "receive") {
      if (port_ == nullptr) return "error FAILED_PRECONDITION no port";
      auto m = port_->Receive(absl::Seconds(10));
      if (!m.ok()) return ErrorLine(m.status());
      return absl::StrCat("ok ", m->ToString());
    }
    if (command == "raw_register") {
      shmport::v1::RegisterRequest request;
      in >> *request.mutable_name();
      request.set_pid(::getpid());
      shmport::v1::RegisterResponse response;
      const grpc::Status s =
          Stub().Register(Context().get(), request, &response);
      if (!s.ok()) return GrpcError(s);
      raw_token_ = response.session_token();
      return absl::StrCat("ok ", response.process_id(), " ",
                          response.session_token());
    }
    if (command == "open_from") {
      uint64_t from = 0;
      std::string peer;
      in >> from >> peer;
      shmport::v1::OpenPortRequest request;
      request.mutable_from()->set_id(from);
      request.mutable_to()->set_name(peer);
      request.set_session_token(raw_token_);
      shmport::v1::OpenPortResponse response;
      const grpc::Status s =
          Stub().OpenPort(Context().get(), request, &response);
      if (!s.ok()) return GrpcError(s);
      return absl::StrCat("ok ", response.port_id());
    }
    if (command == "attach") {
      std::string broker, token;
      uint64_t id = 0;
      in >> broker >> id >> token;
      auto link = BrokerLink::Attach(broker, id, token, absl::Seconds(10));
      if (!link.ok()) return ErrorLine(link.status());
      link_ = std::make_unique<BrokerLink>(*std::move(link));
      return "ok";
    }
    if (auto answer = hostile_.Run(command, in)) return *answer;
    if (command == "register_flood") {
      std::string name;
      int count = 0;
      pid_t pid = ::getpid();
      in >> name >> count >> pid;
      return RegisterFlood(name, count, pid);
    }
    return absl::StrCat("error INVALID_ARGUMENT unknown command '", command,
                        "'");
  }

 private:
  static std::string GrpcError(const grpc::Status& s) {
    return ErrorLine(FromGrpcStatus(s));
  }

  std::string RegisterFlood(const std::string& name, int count, pid_t pid) {
    shmport::v1::RegisterRequest request;
    request.set_name(name);
    request.set_pid(pid);
    int accepted = 0;
    grpc::Status last;
    for (int i = 0; i < count; ++i) {
      shmport::v1::RegisterResponse response;
      const grpc::Status s =
          Stub().Register(Context().get(), request, &response);
      if (s.ok()) {
        ++accepted;
      } else {
        last = s;
      }
    }
    return absl::StrCat(
        "ok ", accepted, " ", count - accepted,
        last.ok() ? ""
                  : absl::StrCat(" ", absl::StatusCodeToString(
                                          FromGrpcStatus(last).code())));
  }

  static std::string ConnectSocket(const std::string& path) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return ErrnoLine(errno);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    const int r =
        ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
    const int error = errno;
    ::close(fd);
    return r == 0 ? "ok" : ErrnoLine(error);
  }

  shmport::v1::ControlPlane::Stub& Stub() {
    if (stub_ == nullptr) {
      stub_ = shmport::v1::ControlPlane::NewStub(grpc::CreateChannel(
          absl::GetFlag(FLAGS_address), grpc::InsecureChannelCredentials()));
    }
    return *stub_;
  }

  std::unique_ptr<shmport::v1::ControlPlane::Stub> stub_;
  std::unique_ptr<Session> session_;
  std::unique_ptr<Port> port_;
  std::unique_ptr<BrokerLink> link_;
  std::string raw_token_;
  shmport::testing::HostileSockets hostile_;
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  Client client;
  std::string line;
  while (std::getline(std::cin, line)) {
    const std::string reply = client.Run(line) + "\n";
    if (::write(STDOUT_FILENO, reply.data(), reply.size()) < 0) return 1;
  }
  return 0;
}
