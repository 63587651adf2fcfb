#include "common/paths/runtime_paths.h"

#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/util/scoped_env.h"

namespace shmport {
namespace {

using ::testing::HasSubstr;

using ::shmport::testing::ScopedEnv;

TEST(RuntimePathsTest, DefaultDirectoryUsesXdgRuntimeDir) {
  ScopedEnv xdg("XDG_RUNTIME_DIR", "/run/user/4242");
  EXPECT_EQ(DefaultRuntimeDirectory(), "/run/user/4242/shmport");
}

TEST(RuntimePathsTest, DefaultDirectoryFallsBackToTmpPerUid) {
  ScopedEnv xdg("XDG_RUNTIME_DIR", nullptr);
  ScopedEnv tmp("SHMPORT_TMPDIR", nullptr);
  EXPECT_EQ(DefaultRuntimeDirectory(), absl::StrCat("/tmp/shmport-", getuid()));
}

TEST(RuntimePathsTest, RelativeXdgRuntimeDirIsIgnored) {
  ScopedEnv xdg("XDG_RUNTIME_DIR", "relative/dir");
  ScopedEnv tmp("SHMPORT_TMPDIR", nullptr);
  EXPECT_EQ(DefaultRuntimeDirectory(), absl::StrCat("/tmp/shmport-", getuid()));
}

TEST(RuntimePathsTest, ShmportTmpdirReplacesTmpInTheFallback) {
  ScopedEnv xdg("XDG_RUNTIME_DIR", nullptr);
  ScopedEnv tmp("SHMPORT_TMPDIR", "/tmp/sp-test/");
  EXPECT_EQ(DefaultRuntimeDirectory(),
            absl::StrCat("/tmp/sp-test/shmport-", getuid()));
}

TEST(RuntimePathsTest, RelativeShmportTmpdirIsIgnored) {
  ScopedEnv xdg("XDG_RUNTIME_DIR", nullptr);
  ScopedEnv tmp("SHMPORT_TMPDIR", "sp-test");
  EXPECT_EQ(DefaultRuntimeDirectory(), absl::StrCat("/tmp/shmport-", getuid()));
}

TEST(RuntimePathsTest, ShmportAddressOverridesTheListenDefault) {
  ScopedEnv addr("SHMPORT_ADDRESS", "unix:/tmp/elsewhere/c.sock");
  EXPECT_EQ(DefaultListenAddress(), "unix:/tmp/elsewhere/c.sock");
}

TEST(RuntimePathsTest, DaemonListensOnThePerUserSocket) {
  ScopedEnv xdg("XDG_RUNTIME_DIR", "/run/user/7");
  ScopedEnv addr("SHMPORT_ADDRESS", nullptr);
  EXPECT_EQ(DefaultListenAddress(), "unix:/run/user/7/shmport/control.sock");
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
