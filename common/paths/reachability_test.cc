#include "common/paths/reachability.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shmport/unique_fd.h"
#include "tests/util/scoped_env.h"

namespace shmport {
namespace {

using ::shmport::testing::ScopedEnv;
using ::testing::HasSubstr;
using ::testing::Not;

// A socket file at `path` that nobody listens on (bound, never listened).
UniqueFd BoundSocket(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)),
            0);
  return fd;
}

class ReachabilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/sp-reach.XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override {
    ::unlink(socket_path().c_str());
    ::rmdir(dir_.c_str());
  }
  std::string socket_path() const { return dir_ + "/control.sock"; }
  std::string address() const { return "unix:" + socket_path(); }

  std::string dir_;
};

TEST(ValidateControlAddressTest, BarePathIsToldToSayUnix) {
  absl::Status s = ValidateControlAddress("/tmp/x.sock");
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("write unix:/tmp/x.sock"));
}

TEST(ValidateControlAddressTest, NetworkAddressesAreRefused) {
  absl::Status s = ValidateControlAddress("dns:localhost:50051");
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("is not a unix socket"));
  EXPECT_TRUE(ValidateControlAddress("unix:/run/shmport/control.sock").ok());
}

TEST(IsDaemonMessageTest, TellsTheDaemonsWordsFromTheTransports) {
  EXPECT_TRUE(IsDaemonMessage("the daemon is shutting down"));
  EXPECT_FALSE(IsDaemonMessage("failed to connect to all addresses"));
}

TEST_F(ReachabilityTest, NothingThereSaysStartTheDaemon) {
  absl::Status s = ExplainUnreachable(
      address(), "failed to connect to all addresses; last error: UNKNOWN: " +
                     address() + ": No such file or directory");
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("is shmportd running? tried " + address() +
                                     " (No such file or directory)"));
  EXPECT_THAT(s.message(), HasSubstr("make run"));
}

TEST_F(ReachabilityTest, SocketNobodyListensOnIsStale) {
  UniqueFd bound = BoundSocket(socket_path());
  absl::Status s =
      ExplainUnreachable(address(), "UNKNOWN: x: Connection refused");
  EXPECT_THAT(s.message(), HasSubstr("stale socket"));
  EXPECT_THAT(s.message(), HasSubstr("is shmportd running?"));
}

TEST_F(ReachabilityTest, SocketOfAnotherUserNamesItsOwnerAndSocketGroup) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown the socket";
  UniqueFd bound = BoundSocket(socket_path());
  ASSERT_EQ(::chown(socket_path().c_str(), 12345, 12345), 0);
  ASSERT_EQ(::chmod(socket_path().c_str(), 0600), 0);
  absl::Status s =
      ExplainUnreachable(address(), "UNKNOWN: x: Permission denied");
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("permission denied. shmportd runs"));
  EXPECT_THAT(s.message(),
              HasSubstr(socket_path() + " belongs to uid 12345, group 12345, "
                                        "mode 0600"));
  EXPECT_THAT(s.message(), HasSubstr("socket_group"));
  EXPECT_THAT(s.message(), Not(HasSubstr("is shmportd running?")));
}

// A scratch $XDG_RUNTIME_DIR with its shmport/ directory, and a path
// standing in for /run/shmport/control.sock.
class DefaultSearchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/sp-search.XXXXXX";
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
  ScopedEnv no_address_{"SHMPORT_ADDRESS", nullptr};
};

TEST_F(DefaultSearchTest, PerUserSocketComesBeforeTheSystemOne) {
  ScopedEnv xdg("XDG_RUNTIME_DIR", root_.c_str());
  EXPECT_THAT(
      DefaultControlSearchOrder(system_socket_),
      ::testing::ElementsAre("unix:" + user_socket_, "unix:" + system_socket_));
  EXPECT_THAT(DefaultControlSearchOrder(),
              ::testing::ElementsAre("unix:" + user_socket_,
                                     "unix:/run/shmport/control.sock"));
}

TEST_F(DefaultSearchTest, SystemSocketIsFoundWhenNoPerUserSocketExists) {
  ScopedEnv xdg("XDG_RUNTIME_DIR", root_.c_str());
  UniqueFd system = BoundSocket(system_socket_);
  EXPECT_EQ(DefaultControlAddress(system_socket_), "unix:" + system_socket_);
}

TEST_F(DefaultSearchTest, PerUserSocketWinsOverTheSystemSocket) {
  ScopedEnv xdg("XDG_RUNTIME_DIR", root_.c_str());
  UniqueFd system = BoundSocket(system_socket_);
  UniqueFd user = BoundSocket(user_socket_);
  EXPECT_EQ(DefaultControlAddress(system_socket_), "unix:" + user_socket_);
}

TEST_F(DefaultSearchTest, ShmportAddressIsTheWholeSearch) {
  ScopedEnv xdg("XDG_RUNTIME_DIR", root_.c_str());
  ScopedEnv address("SHMPORT_ADDRESS", "unix:/tmp/elsewhere/c.sock");
  UniqueFd system = BoundSocket(system_socket_);
  EXPECT_EQ(DefaultControlAddress(system_socket_),
            "unix:/tmp/elsewhere/c.sock");
  EXPECT_THAT(DefaultControlSearchOrder(system_socket_),
              ::testing::ElementsAre("unix:/tmp/elsewhere/c.sock"));
}

TEST_F(DefaultSearchTest, NeitherSocketNamesThePerUserOneAndBothInTheError) {
  ScopedEnv xdg("XDG_RUNTIME_DIR", root_.c_str());
  const std::string address = DefaultControlAddress(system_socket_);
  EXPECT_EQ(address, "unix:" + user_socket_);
  absl::Status s = ExplainUnreachable(
      address, "UNKNOWN: x: No such file or directory", system_socket_);
  EXPECT_THAT(s.message(),
              HasSubstr("tried " + address +
                        " (No such file or directory); also looked for "
                        "unix:" +
                        system_socket_ + " (not there)"));
}

TEST_F(DefaultSearchTest, StalePerUserSocketHidingTheSystemOneIsNamed) {
  ScopedEnv xdg("XDG_RUNTIME_DIR", root_.c_str());
  UniqueFd system = BoundSocket(system_socket_);
  UniqueFd user = BoundSocket(user_socket_);
  absl::Status s = ExplainUnreachable(
      "unix:" + user_socket_, "UNKNOWN: x: Connection refused", system_socket_);
  EXPECT_THAT(s.message(), HasSubstr("stale socket"));
  EXPECT_THAT(s.message(), HasSubstr("also looked for unix:" + system_socket_ +
                                     " (there too: remove the per-user "
                                     "socket to use it)"));
}

TEST_F(DefaultSearchTest, AnExplicitAddressGetsNoSearchNote) {
  ScopedEnv xdg("XDG_RUNTIME_DIR", root_.c_str());
  absl::Status s = ExplainUnreachable("unix:" + root_ + "/other.sock",
                                      "UNKNOWN: x: No such file or directory",
                                      system_socket_);
  EXPECT_THAT(s.message(), Not(HasSubstr("also looked for")));
}

}  // namespace
}  // namespace shmport
