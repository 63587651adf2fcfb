// shmportd as a process: start-up (directory, token, stale sockets, a
// second daemon), status, and a clean stop on SIGTERM.
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "client/broker_link.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/control/daemon_process.h"
#include "tests/control/raw_client.h"

namespace shmport::testing {
namespace {

using ::testing::HasSubstr;

// A unique, empty parent directory (mkdtemp: Bazel runs each test in its
// own pid namespace, so pids do not tell concurrent tests apart) and a path
// inside it that does not exist yet. The caller removes `parent`.
struct FreshDirectory {
  FreshDirectory() {
    char tmpl[] = "/tmp/shmport-dXXXXXX";
    EXPECT_NE(::mkdtemp(tmpl), nullptr);
    parent = tmpl;
    path = parent + "/run";
  }
  ~FreshDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(parent, ignored);
  }
  std::string parent;
  std::string path;
};

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(DaemonTest, GetStatusDescribesTheDaemon) {
  auto daemon = DaemonProcess::Start();
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  auto stub = (*daemon)->NewStub();
  v1::GetStatusResponse status;
  ASSERT_TRUE(stub->GetStatus(Context().get(), {}, &status).ok());
  EXPECT_EQ(status.pid(), (*daemon)->pid());
  EXPECT_EQ(status.listen_address(), (*daemon)->address());
  EXPECT_EQ(status.broker_address(), (*daemon)->broker_address());
  EXPECT_FALSE(status.version().empty());
  EXPECT_GE(status.uptime_ms(), 0);
}

TEST(DaemonTest, CreatesItsDirectoryOwnerOnlyWithAPrivateAdminToken) {
  FreshDirectory fresh;
  const std::string dir = fresh.path;
  auto daemon = DaemonProcess::Start({.directory = dir});
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  EXPECT_EQ(ModeOf(dir), 0700u);
  EXPECT_EQ(ModeOf(dir + "/admin.token"), 0600u);
  auto token = (*daemon)->AdminToken();
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(token->size(), 64u);
  ASSERT_TRUE((*daemon)->Stop().ok());
  // A clean stop removes its sockets and token.
  EXPECT_FALSE(std::filesystem::exists(dir + "/control.sock"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/broker.sock"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/admin.token"));
}

TEST(DaemonTest, SecondDaemonOnTheSameAddressRefusesToStart) {
  FreshDirectory fresh;
  const std::string dir = fresh.path;
  auto first = DaemonProcess::Start({.directory = dir});
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = DaemonProcess::Start({.directory = dir});
  EXPECT_FALSE(second.ok());
  EXPECT_THAT(second.status().message(), HasSubstr("exit 1"));
  // The first one is untouched.
  EXPECT_TRUE((*first)->CheckHealth().ok());
  auto token = (*first)->AdminToken();
  EXPECT_TRUE(token.ok()) << token.status();
  first->reset();
}

TEST(DaemonTest, StaleSocketFilesAreRemovedAtStart) {
  FreshDirectory fresh;
  const std::string dir = fresh.path;
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  // Sockets bound and closed: files no one listens on, as a crash leaves.
  for (const char* name : {"/control.sock", "/broker.sock"}) {
    const std::string path = dir + name;
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path.c_str());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ::close(fd);
  }
  auto daemon = DaemonProcess::Start({.directory = dir});
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  daemon->reset();
}

TEST(DaemonTest, InvalidConfigRefusesToStart) {
  auto daemon =
      DaemonProcess::Start({.config_text = "limits { max_chunk_size: 3000 }"});
  EXPECT_FALSE(daemon.ok());
  auto syntax = DaemonProcess::Start({.config_text = "limits { nonsense: 1 }"});
  EXPECT_FALSE(syntax.ok());
}

TEST(DaemonTest, SigtermEndsWatchersOkSaysGoodbyeAndExitsZero) {
  auto daemon = DaemonProcess::Start();
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  auto stub = (*daemon)->NewStub();
  auto attached = RegisterAndAttach(*stub, "until-the-end");
  ASSERT_TRUE(attached.ok()) << attached.status();
  grpc::ClientContext context;
  v1::WatchEventsRequest request;
  request.set_include_existing(true);
  auto watch = stub->WatchEvents(&context, request);
  v1::Event event;
  ASSERT_TRUE(watch->Read(&event));  // the stream is live

  // Keep reading, as a watcher does, while the daemon stops.
  grpc::Status end;
  std::thread reader([&] {
    v1::Event e;
    while (watch->Read(&e)) {
    }
    end = watch->Finish();
  });
  auto code = (*daemon)->Stop(absl::Seconds(10));
  reader.join();
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  EXPECT_TRUE(end.ok()) << Describe(end);
  auto bye = NextNotice(attached->link, absl::Seconds(10));
  ASSERT_TRUE(bye.ok()) << bye.status();
  EXPECT_EQ(bye->frame.goodbye().reason(), "daemon shutting down");
  auto eof = NextNotice(attached->link, absl::Seconds(10));
  EXPECT_EQ(eof.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace shmport::testing
