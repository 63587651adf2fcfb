#include "common/paths/runtime_paths.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shmport {
namespace {

using ::testing::HasSubstr;

// Sets an environment variable for one test and restores it afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = ::getenv(name)) old_ = old;
    if (value == nullptr) {
      ::unsetenv(name);
    } else {
      ::setenv(name, value, 1);
    }
  }
  ~ScopedEnv() {
    if (old_.has_value()) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(RuntimePathsTest, DefaultDirectoryUsesXdgRuntimeDir) {
  ScopedEnv xdg("XDG_RUNTIME_DIR", "/run/user/4242");
  EXPECT_EQ(DefaultRuntimeDirectory(), "/run/user/4242/shmport");
}

TEST(RuntimePathsTest, DefaultDirectoryFallsBackToTmpPerUid) {
  ScopedEnv xdg("XDG_RUNTIME_DIR", nullptr);
  EXPECT_EQ(DefaultRuntimeDirectory(), absl::StrCat("/tmp/shmport-", getuid()));
}

TEST(RuntimePathsTest, RelativeXdgRuntimeDirIsIgnored) {
  ScopedEnv xdg("XDG_RUNTIME_DIR", "relative/dir");
  EXPECT_EQ(DefaultRuntimeDirectory(), absl::StrCat("/tmp/shmport-", getuid()));
}

TEST(RuntimePathsTest, DefaultAddressIsControlSocketInDefaultDirectory) {
  ScopedEnv xdg("XDG_RUNTIME_DIR", "/run/user/7");
  ScopedEnv addr("SHMPORT_ADDRESS", nullptr);
  EXPECT_EQ(DefaultControlAddress(), "unix:/run/user/7/shmport/control.sock");
}

TEST(RuntimePathsTest, ShmportAddressOverridesDefault) {
  ScopedEnv addr("SHMPORT_ADDRESS", "unix:/tmp/elsewhere/c.sock");
  EXPECT_EQ(DefaultControlAddress(), "unix:/tmp/elsewhere/c.sock");
}

// A listening-capable unix socket file at `path` (the caller removes it).
void MakeSocketFile(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(path.size(), sizeof(addr.sun_path));
  std::memcpy(addr.sun_path, path.data(), path.size());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0)
      << path;
  ::close(fd);
}

// A scratch runtime directory with a per-user dir and a "system" socket
// path, standing in for $XDG_RUNTIME_DIR and /run/shmport/control.sock.
class DefaultAddressTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/sp-rpXXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    root_ = dir;
    ASSERT_EQ(::mkdir((root_ + "/shmport").c_str(), 0700), 0);
    user_socket_ = root_ + "/shmport/control.sock";
    system_socket_ = root_ + "/system.sock";
  }
  void TearDown() override {
    ::unlink(user_socket_.c_str());
    ::unlink(system_socket_.c_str());
    ::rmdir((root_ + "/shmport").c_str());
    ::rmdir(root_.c_str());
  }
  std::string root_, user_socket_, system_socket_;
};

TEST_F(DefaultAddressTest, SystemSocketIsFoundWhenNoPerUserSocketExists) {
  ScopedEnv xdg("XDG_RUNTIME_DIR", root_.c_str());
  ScopedEnv addr("SHMPORT_ADDRESS", nullptr);
  MakeSocketFile(system_socket_);
  EXPECT_EQ(DefaultControlAddress(system_socket_), "unix:" + system_socket_);
}

TEST_F(DefaultAddressTest, PerUserSocketWinsOverSystemSocket) {
  ScopedEnv xdg("XDG_RUNTIME_DIR", root_.c_str());
  ScopedEnv addr("SHMPORT_ADDRESS", nullptr);
  MakeSocketFile(system_socket_);
  MakeSocketFile(user_socket_);
  EXPECT_EQ(DefaultControlAddress(system_socket_), "unix:" + user_socket_);
}

TEST_F(DefaultAddressTest, NeitherSocketExistingNamesThePerUserDefault) {
  ScopedEnv xdg("XDG_RUNTIME_DIR", root_.c_str());
  ScopedEnv addr("SHMPORT_ADDRESS", nullptr);
  EXPECT_EQ(DefaultControlAddress(system_socket_), "unix:" + user_socket_);
}

TEST_F(DefaultAddressTest, ShmportAddressWinsOverExistingSockets) {
  ScopedEnv xdg("XDG_RUNTIME_DIR", root_.c_str());
  ScopedEnv addr("SHMPORT_ADDRESS", "unix:/tmp/elsewhere/c.sock");
  MakeSocketFile(system_socket_);
  MakeSocketFile(user_socket_);
  EXPECT_EQ(DefaultControlAddress(system_socket_),
            "unix:/tmp/elsewhere/c.sock");
}

TEST_F(DefaultAddressTest, DaemonListensPerUserEvenWhenSystemSocketExists) {
  ScopedEnv xdg("XDG_RUNTIME_DIR", root_.c_str());
  ScopedEnv addr("SHMPORT_ADDRESS", nullptr);
  MakeSocketFile(system_socket_);
  EXPECT_EQ(DefaultListenAddress(), "unix:" + user_socket_);
}

TEST(RuntimePathsTest, UnixPathPutsBrokerAndTokenNextToControlSocket) {
  auto paths = RuntimePathsFor("unix:/tmp/d/control.sock");
  ASSERT_TRUE(paths.ok()) << paths.status();
  EXPECT_EQ(paths->directory, "/tmp/d");
  EXPECT_EQ(paths->control_socket_path, "/tmp/d/control.sock");
  EXPECT_EQ(paths->broker_address, "/tmp/d/broker.sock");
  EXPECT_EQ(paths->admin_token_path, "/tmp/d/admin.token");
  EXPECT_EQ(paths->control_address, "unix:/tmp/d/control.sock");
}

TEST(RuntimePathsTest, UnixTripleSlashFormIsAnAbsolutePath) {
  auto paths = RuntimePathsFor("unix:///tmp/d/control.sock");
  ASSERT_TRUE(paths.ok()) << paths.status();
  EXPECT_EQ(paths->control_socket_path, "/tmp/d/control.sock");
  EXPECT_EQ(paths->broker_address, "/tmp/d/broker.sock");
}

TEST(RuntimePathsTest, BareFileNameLivesInCurrentDirectory) {
  auto paths = RuntimePathsFor("unix:control.sock");
  ASSERT_TRUE(paths.ok()) << paths.status();
  EXPECT_EQ(paths->directory, ".");
  EXPECT_EQ(paths->broker_address, "./broker.sock");
}

TEST(RuntimePathsTest, RuntimeDirOverridesDirectory) {
  auto paths = RuntimePathsFor("unix:/tmp/a/control.sock", "/tmp/b");
  ASSERT_TRUE(paths.ok()) << paths.status();
  EXPECT_EQ(paths->control_socket_path, "/tmp/a/control.sock");
  EXPECT_EQ(paths->broker_address, "/tmp/b/broker.sock");
  EXPECT_EQ(paths->admin_token_path, "/tmp/b/admin.token");
}

TEST(RuntimePathsTest, AbstractAddressGetsAbstractBroker) {
  auto paths = RuntimePathsFor("unix-abstract:shmport-t1", "/tmp/t1");
  ASSERT_TRUE(paths.ok()) << paths.status();
  EXPECT_EQ(paths->broker_address, "@shmport-t1.broker");
  EXPECT_EQ(paths->control_socket_path, "");
  EXPECT_EQ(paths->admin_token_path, "/tmp/t1/admin.token");
}

TEST(RuntimePathsTest, AbstractAddressWithoutRuntimeDirIsRefused) {
  auto paths = RuntimePathsFor("unix-abstract:x");
  EXPECT_EQ(paths.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(paths.status().message(), HasSubstr("runtime directory"));
}

TEST(RuntimePathsTest, TcpAddressIsRefusedNamingTheAddress) {
  auto paths = RuntimePathsFor("localhost:50051");
  EXPECT_EQ(paths.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(paths.status().message(), HasSubstr("localhost:50051"));
}

TEST(RuntimePathsTest, EmptyPathIsRefused) {
  EXPECT_EQ(RuntimePathsFor("unix:").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RuntimePathsFor("").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RuntimePathsTest, OverlongSocketPathIsRefusedWithItsLength) {
  const std::string path = "/tmp/" + std::string(110, 'x') + "/control.sock";
  auto paths = RuntimePathsFor("unix:" + path);
  EXPECT_EQ(paths.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(paths.status().message(),
              HasSubstr(absl::StrCat(path.size(), " bytes")));
}

}  // namespace
}  // namespace shmport
