// A libshmport client process for the control-plane tests: registers with
// a Session and then plays one part. It reports on stdout, one line per
// milestone, and exits when its stdin closes (so the test decides when it
// ends, and a test that dies takes its clients with it).
//
//   --mode=idle  register, print "registered <id>", wait
//   --mode=echo  also accept one port and echo --messages messages back,
//                then print "echoed <n>"
//   --mode=send  open a port to --peer, send --messages messages of
//                --payload bytes, check each echo, print "sent <n>"
//   --mode=stream  open a port to --peer, print "streaming <port>", send
//                1 KiB messages (about 1,000/s) until a send fails
//                ("send_failed <status>")
//   --mode=sink  accept --ports ports ("accepted <port>"), receive on each
//                until it fails ("receive_failed <port> <status>")
// Every mode prints the session's callbacks as they fire ("daemon_lost",
// "reconnected <id>", "port_closed <port> <reason>") and, when stdin
// closes, their counts ("callbacks lost=<n> reconnected=<n> closed=<n>").
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "shmport/session.h"

ABSL_FLAG(std::string, address, "", "daemon address");
ABSL_FLAG(std::string, name, "", "name to register");
ABSL_FLAG(std::string, mode, "idle", "idle, echo or send");
ABSL_FLAG(std::string, peer, "", "send: the process to open a port to");
ABSL_FLAG(int, messages, 10, "echo/send: how many messages");
ABSL_FLAG(int, payload, 64 * 1024, "send: bytes per message");
ABSL_FLAG(int, stats_interval_ms, 100, "how often to push port stats");
ABSL_FLAG(int, ports, 1, "sink: how many ports to accept");

namespace {

void Say(const std::string& line) {
  const std::string text = line + "\n";
  [[maybe_unused]] ssize_t n = ::write(STDOUT_FILENO, text.data(), text.size());
}

int Fail(const std::string& what, const absl::Status& status) {
  Say(absl::StrCat("error ", what, ": ", status.ToString()));
  return 1;
}

// Blocks until the test closes our stdin.
void WaitForStdinEof() {
  char c;
  while (::read(STDIN_FILENO, &c, 1) > 0) {
  }
}

uint8_t PatternByte(int message, size_t i) {
  return static_cast<uint8_t>((message * 131 + i * 7) & 0xff);
}

std::atomic<bool> stopping{false};
std::atomic<int> lost_calls{0};
std::atomic<int> reconnected_calls{0};
std::atomic<int> closed_calls{0};

void SetCallbacks(shmport::SessionOptions& options) {
  options.on_daemon_lost = [](absl::string_view) {
    ++lost_calls;
    Say("daemon_lost");
  };
  options.on_reconnected = [](uint64_t id) {
    ++reconnected_calls;
    Say(absl::StrCat("reconnected ", id));
  };
  options.on_port_closed = [](uint64_t port, absl::string_view reason) {
    ++closed_calls;
    Say(absl::StrCat("port_closed ", port, " ", reason));
  };
}

// --mode=stream: runs until a send fails or stdin closes.
void Stream(std::unique_ptr<shmport::Port> port) {
  const std::vector<uint8_t> bytes(1024, 0x5a);
  for (uint32_t i = 0; !stopping.load(); ++i) {
    if (absl::Status s = port->SendCopy(i, bytes); !s.ok()) {
      Say(absl::StrCat("send_failed ", s.ToString()));
      return;
    }
    ::usleep(1000);
  }
}

// --mode=sink: one thread per accepted port.
void Sink(std::unique_ptr<shmport::Port> port) {
  while (!stopping.load()) {
    auto m = port->Receive(absl::Milliseconds(200));
    if (m.ok() || absl::IsDeadlineExceeded(m.status())) continue;
    Say(absl::StrCat("receive_failed ", port->port_id(), " ",
                     m.status().ToString()));
    return;
  }
}

int Streaming(shmport::Session& session, const std::string& mode) {
  std::vector<std::thread> threads;
  if (mode == "stream") {
    auto opened = session.OpenPort(absl::GetFlag(FLAGS_peer),
                                   {.wait_for_peer = absl::Seconds(30)});
    if (!opened.ok()) return Fail("open", opened.status());
    Say(absl::StrCat("streaming ", (*opened)->port_id()));
    threads.emplace_back(Stream, *std::move(opened));
  } else {
    for (int i = 0; i < absl::GetFlag(FLAGS_ports); ++i) {
      auto accepted = session.AcceptPort(absl::Seconds(60));
      if (!accepted.ok()) return Fail("accept", accepted.status());
      Say(absl::StrCat("accepted ", (*accepted)->port_id()));
      threads.emplace_back(Sink, *std::move(accepted));
    }
  }
  WaitForStdinEof();
  stopping = true;
  for (std::thread& t : threads) t.join();
  Say(absl::StrCat("callbacks lost=", lost_calls.load(), " reconnected=",
                   reconnected_calls.load(), " closed=", closed_calls.load()));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  shmport::SessionOptions options;
  options.name = absl::GetFlag(FLAGS_name);
  options.address = absl::GetFlag(FLAGS_address);
  options.stats_interval =
      absl::Milliseconds(absl::GetFlag(FLAGS_stats_interval_ms));
  options.labels["role"] = absl::GetFlag(FLAGS_mode);
  if (absl::GetFlag(FLAGS_mode) == "stream" ||
      absl::GetFlag(FLAGS_mode) == "sink") {
    SetCallbacks(options);
  }
  auto session = shmport::Session::Connect(options);
  if (!session.ok()) return Fail("connect", session.status());
  Say(absl::StrCat("registered ", (*session)->process_id()));

  const std::string mode = absl::GetFlag(FLAGS_mode);
  const int messages = absl::GetFlag(FLAGS_messages);
  std::unique_ptr<shmport::Port> port;
  if (mode == "stream" || mode == "sink") return Streaming(**session, mode);
  if (mode == "echo") {
    auto accepted = (*session)->AcceptPort(absl::Seconds(60));
    if (!accepted.ok()) return Fail("accept", accepted.status());
    port = std::move(*accepted);
    for (int i = 0; i < messages; ++i) {
      auto m = port->Receive(absl::Seconds(60));
      if (!m.ok()) return Fail("receive", m.status());
      std::vector<uint8_t> bytes(m->size());
      m->CopyTo(bytes.data());
      if (absl::Status s = port->SendCopy(m->stream(), bytes); !s.ok()) {
        return Fail("echo", s);
      }
    }
    Say(absl::StrCat("echoed ", messages));
  } else if (mode == "send") {
    auto opened = (*session)->OpenPort(absl::GetFlag(FLAGS_peer));
    if (!opened.ok()) return Fail("open", opened.status());
    port = std::move(*opened);
    const size_t size = absl::GetFlag(FLAGS_payload);
    for (int i = 0; i < messages; ++i) {
      auto buffer = port->Allocate(size);
      if (!buffer.ok()) return Fail("allocate", buffer.status());
      for (size_t j = 0; j < size; ++j) buffer->data()[j] = PatternByte(i, j);
      if (absl::Status s = port->Send(i, std::move(*buffer)); !s.ok()) {
        return Fail("send", s);
      }
      auto echo = port->Receive(absl::Seconds(60));
      if (!echo.ok()) return Fail("receive echo", echo.status());
      std::vector<uint8_t> bytes(echo->size());
      echo->CopyTo(bytes.data());
      if (echo->stream() != static_cast<uint32_t>(i) || bytes.size() != size) {
        return Fail("echo", absl::DataLossError(absl::StrCat(
                                "echo ", i, " has stream ", echo->stream(),
                                " and ", bytes.size(), " bytes")));
      }
      for (size_t j = 0; j < size; ++j) {
        if (bytes[j] != PatternByte(i, j)) {
          return Fail("echo", absl::DataLossError(absl::StrCat(
                                  "echo ", i, " differs at byte ", j)));
        }
      }
    }
    Say(absl::StrCat("sent ", messages, " port ", port->port_id()));
  } else if (mode != "idle") {
    return Fail("flags", absl::InvalidArgumentError("unknown --mode " + mode));
  }
  WaitForStdinEof();
  return 0;
}
