#include "common/paths/daemon_identity.h"

#include <stddef.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/util/child_process.h"
#include "tests/util/other_user.h"
#include "tests/util/scoped_env.h"

namespace shmport {
namespace {

using ::shmport::testing::BecomeUser;
using ::shmport::testing::ChildProcess;
using ::shmport::testing::ScopedEnv;
using ::testing::HasSubstr;

constexpr uid_t kOtherUid = 65534;  // nobody
constexpr gid_t kOtherGid = 65534;

// Root outside a user namespace that maps only root: can give files away.
bool CanChown() {
  if (::geteuid() != 0) return false;
  ChildProcess child = ChildProcess::Fork(
      [] { return BecomeUser(kOtherUid, kOtherGid) ? 0 : 1; });
  return child.Wait() == "exit 0";
}

class DaemonIdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sp-idXXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  // A directory `name` in the test's root with exactly `mode`.
  std::string MakeDir(const std::string& name, mode_t mode) {
    const std::string dir = root_ + "/" + name;
    EXPECT_EQ(::mkdir(dir.c_str(), 0700), 0);
    EXPECT_EQ(::chmod(dir.c_str(), mode), 0);
    return dir;
  }
  static struct stat Lstat(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
    return st;
  }
  absl::Status CheckOwn(const std::string& dir) {
    return CheckRuntimeDirectory(Lstat(dir), dir, DaemonSelf(), "the remedy");
  }

  std::string root_;
};

TEST_F(DaemonIdentityTest, OwnOwnerOnlyOrGroupReadableDirectoryIsAccepted) {
  EXPECT_TRUE(CheckOwn(MakeDir("private", 0700)).ok());
  EXPECT_TRUE(CheckOwn(MakeDir("group", 0750)).ok());
}

TEST_F(DaemonIdentityTest, GroupOrWorldWritableDirectoryIsRefused) {
  for (mode_t mode : {0770, 0707, 01777}) {
    const std::string dir = MakeDir(absl::StrCat("w", mode), mode);
    const absl::Status s = CheckOwn(dir);
    EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
    EXPECT_THAT(s.message(), HasSubstr(dir));
    EXPECT_THAT(s.message(), HasSubstr("writable"));
    EXPECT_THAT(s.message(), HasSubstr("the remedy"));
  }
}

TEST_F(DaemonIdentityTest, SymlinkToAnOwnDirectoryIsRefused) {
  const std::string target = MakeDir("target", 0700);
  const std::string link = root_ + "/link";
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  const absl::Status s = CheckOwn(link);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("symbolic link"));
}

TEST_F(DaemonIdentityTest, DirectoryOfAnotherUidIsRefusedNamingTheOwner) {
  if (!CanChown()) GTEST_SKIP() << "needs root to give a directory away";
  const std::string dir = MakeDir("theirs", 0700);
  ASSERT_EQ(::chown(dir.c_str(), kOtherUid, kOtherGid), 0);
  const absl::Status s = CheckOwn(dir);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("owned by uid 65534"));
  // A client refuses it too, as PERMISSION_DENIED, before connecting.
  const absl::Status client =
      CheckDaemonAt(absl::StrCat("unix:", dir, "/control.sock"));
  EXPECT_TRUE(absl::IsPermissionDenied(client)) << client;
  EXPECT_THAT(client.message(), HasSubstr("owned by uid 65534"));
  // ... unless told that uid runs its daemon.
  EXPECT_TRUE(
      CheckDaemonAt(absl::StrCat("unix:", dir, "/control.sock"), kOtherUid)
          .ok());
}

TEST_F(DaemonIdentityTest, SocketOfAnotherUidInAnOwnDirectoryIsRefused) {
  if (!CanChown()) GTEST_SKIP() << "needs root to give a socket away";
  const std::string dir = MakeDir("run", 0700);
  const std::string path = dir + "/control.sock";
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ::close(fd);
  EXPECT_TRUE(CheckSocketFile(path, DaemonSelf(), "").ok());
  ASSERT_EQ(::chown(path.c_str(), kOtherUid, kOtherGid), 0);
  const absl::Status s = CheckSocketFile(path, DaemonSelf(), "");
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("owned by uid 65534"));
  EXPECT_TRUE(absl::IsPermissionDenied(CheckDaemonAt("unix:" + path)));
}

// Anyone may bind any abstract name first; only SO_PEERCRED tells who.
TEST_F(DaemonIdentityTest,
       AbstractListenerOfAnotherUidIsRefusedByItsCredentials) {
  if (!CanChown()) GTEST_SKIP() << "needs root to run a process as nobody";
  const std::string name = absl::StrCat("sp-id-", ::getpid());
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  ChildProcess listener = ChildProcess::Fork([&]() -> int {
    ::close(ready[0]);
    if (!BecomeUser(kOtherUid, kOtherGid)) return 1;
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path + 1, name.data(), name.size());
    const socklen_t length = static_cast<socklen_t>(
        offsetof(sockaddr_un, sun_path) + 1 + name.size());
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), length) != 0 ||
        ::listen(fd, 8) != 0 || ::write(ready[1], "r", 1) != 1) {
      return 2;
    }
    ::pause();  // until killed
    return 0;
  });
  ::close(ready[1]);
  char byte;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1) << "the listener did not start";
  ::close(ready[0]);
  const absl::Status s = CheckDaemonAt("unix-abstract:" + name);
  EXPECT_TRUE(absl::IsPermissionDenied(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("uid 65534"));
  EXPECT_THAT(s.message(), HasSubstr(absl::StrCat("pid ", listener.pid())));
  EXPECT_TRUE(CheckDaemonAt("unix-abstract:" + name, kOtherUid).ok());
}

TEST(ClientTrustTest, DefaultIsThisProcesssUidOrRoot) {
  ScopedEnv env("SHMPORT_DAEMON_UID", nullptr);
  absl::StatusOr<DaemonOwner> owner = ClientTrust(kDefaultDaemonUid);
  ASSERT_TRUE(owner.ok()) << owner.status();
  EXPECT_TRUE(owner->Accepts(::geteuid()));
  EXPECT_TRUE(owner->Accepts(0));
  EXPECT_FALSE(owner->Accepts(::geteuid() + 1));
}

TEST(ClientTrustTest, EnvironmentNamesTheDaemonsUid) {
  ScopedEnv env("SHMPORT_DAEMON_UID", "4321");
  absl::StatusOr<DaemonOwner> owner = ClientTrust(kDefaultDaemonUid);
  ASSERT_TRUE(owner.ok()) << owner.status();
  EXPECT_TRUE(owner->Accepts(4321));
  EXPECT_TRUE(owner->Accepts(0));
  // An explicit uid wins over the environment.
  owner = ClientTrust(77);
  ASSERT_TRUE(owner.ok());
  EXPECT_FALSE(owner->Accepts(4321));
  EXPECT_TRUE(owner->Accepts(77));
}

TEST(ClientTrustTest, EnvironmentThatIsNotAUidIsRefused) {
  ScopedEnv env("SHMPORT_DAEMON_UID", "shmport");
  absl::StatusOr<DaemonOwner> owner = ClientTrust(kDefaultDaemonUid);
  EXPECT_TRUE(absl::IsInvalidArgument(owner.status())) << owner.status();
  EXPECT_THAT(owner.status().message(), HasSubstr("SHMPORT_DAEMON_UID"));
}

TEST(DaemonSelfTest, TheDaemonAcceptsOnlyItsOwnUid) {
  EXPECT_TRUE(DaemonSelf().Accepts(::geteuid()));
  EXPECT_FALSE(DaemonSelf().Accepts(::geteuid() + 1));
}

}  // namespace
}  // namespace shmport
