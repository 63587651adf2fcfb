// Security (issue 11, hole 1): another user poses as the daemon. Without
// XDG_RUNTIME_DIR the default directory is /tmp/shmport-$UID, which any
// user can create first. Here uid 65534 (the impostor) creates this
// process's (the victim's, root's) default directory, under a private
// $SHMPORT_TMPDIR standing in for /tmp, and serves a real shmportd in it.
// The victim's daemon refuses to start there and says what to do; the
// victim's clients (library and CLI) refuse the impostor before sending it
// anything, naming its uid; a client told to trust that uid connects.
//
// Switching uid needs root, which CI has; elsewhere these tests skip.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "cli/control_connection.h"
#include "client/broker_link.h"
#include "common/paths/runtime_paths.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/daemon.h"
#include "shmport/session.h"
#include "tests/control/daemon_process.h"
#include "tests/control/raw_client.h"
#include "tests/security/foreign_process.h"
#include "tests/util/scoped_env.h"

namespace shmport::testing {
namespace {

using ::testing::HasSubstr;

class ImpersonationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!CanSwitchUid()) {
      GTEST_SKIP() << "needs root (outside a user namespace) to run a "
                   << "daemon as uid " << kForeignUid;
    }
    // Our /tmp: root's, world-writable and sticky like the real one.
    char tmpl[] = "/tmp/sp-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    tmp_ = tmpl;
    ASSERT_EQ(::chmod(tmp_.c_str(), 01777), 0);
    tmpdir_.emplace("SHMPORT_TMPDIR", tmp_.c_str());
    victim_dir_ = DefaultRuntimeDirectory();
    ASSERT_EQ(victim_dir_, absl::StrCat(tmp_, "/shmport-", ::getuid()));
    // The impostor admits anyone, so that nothing but the victim's own
    // checks stands between the victim and it.
    const std::string config = tmp_ + "/impostor.textproto";
    std::ofstream(config) << "policy { allow_any_uid: true }\n";
    ASSERT_EQ(::chmod(config.c_str(), 0644), 0);
    auto impostor = DaemonProcess::Start(
        {.extra_args = {"--config=" + config},
         .directory = victim_dir_,
         .run_as = DaemonProcessOptions::User{kForeignUid, kForeignGid}});
    ASSERT_TRUE(impostor.ok()) << impostor.status();
    impostor_ = *std::move(impostor);
    struct stat st {};
    ASSERT_EQ(::lstat(victim_dir_.c_str(), &st), 0);
    ASSERT_EQ(st.st_uid, kForeignUid) << "the impostor did not make the dir";
  }

  void TearDown() override {
    impostor_.reset();
    if (!tmp_.empty()) std::filesystem::remove_all(tmp_);
  }

  // What reached the impostor: registrations it ever saw.
  uint64_t ImpostorRegistrations() {
    v1::GetStatsResponse stats;
    const grpc::Status s =
        impostor_->NewStub()->GetStats(Context().get(), {}, &stats);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return stats.daemon().registrations_total();
  }

  // The victim's environment: nothing but the defaults.
  ScopedEnv xdg_{"XDG_RUNTIME_DIR", nullptr};
  ScopedEnv address_{"SHMPORT_ADDRESS", nullptr};
  ScopedEnv daemon_uid_{"SHMPORT_DAEMON_UID", nullptr};
  std::optional<ScopedEnv> tmpdir_;
  std::string tmp_;
  std::string victim_dir_;
  std::unique_ptr<DaemonProcess> impostor_;
};

TEST_F(ImpersonationTest, VictimsDaemonRefusesTheDirectoryAndSaysWhatToDo) {
  auto victim = server::Daemon::Start({});  // the default address
  ASSERT_FALSE(victim.ok()) << "the victim's daemon started in a directory "
                               "another user owns";
  EXPECT_TRUE(absl::IsFailedPrecondition(victim.status())) << victim.status();
  const std::string message(victim.status().message());
  EXPECT_THAT(message, HasSubstr(victim_dir_));
  EXPECT_THAT(message, HasSubstr("owned by uid 65534"));
  EXPECT_THAT(message, HasSubstr("XDG_RUNTIME_DIR"));
  EXPECT_THAT(message, HasSubstr("--runtime_dir"));
  // The binary exits the same way; the impostor's files are untouched.
  auto binary = DaemonProcess::Start({.directory = victim_dir_});
  EXPECT_TRUE(absl::IsFailedPrecondition(binary.status())) << binary.status();
  EXPECT_TRUE(impostor_->CheckHealth().ok());
}

TEST_F(ImpersonationTest, VictimsClientRefusesToRegisterWithTheImpostor) {
  auto session = Session::Connect({.name = "victim"});  // the default address
  ASSERT_FALSE(session.ok()) << "registered with uid 65534's daemon";
  EXPECT_TRUE(absl::IsPermissionDenied(session.status())) << session.status();
  EXPECT_THAT(session.status().message(), HasSubstr("owned by uid 65534"));
  EXPECT_EQ(ImpostorRegistrations(), 0u);
}

// Past the directory (say the victim was told the impostor's address some
// other way): the broker socket's peer credentials still say who listens.
TEST_F(ImpersonationTest, VictimsBrokerLinkRefusesAListenerOfAnotherUid) {
  auto link = BrokerLink::Attach(impostor_->broker_address(), 1, "token",
                                 absl::Seconds(5));
  ASSERT_FALSE(link.ok());
  EXPECT_TRUE(absl::IsPermissionDenied(link.status())) << link.status();
  EXPECT_THAT(link.status().message(), HasSubstr("uid 65534"));
  EXPECT_THAT(link.status().message(),
              HasSubstr(absl::StrCat("pid ", impostor_->pid())));
}

TEST_F(ImpersonationTest, VictimsCliRefusesTheImpostor) {
  auto connection = cli::ControlConnection::Create({});
  ASSERT_TRUE(connection.ok()) << connection.status();
  auto health = connection->CheckHealth();
  EXPECT_TRUE(absl::IsPermissionDenied(health.status())) << health.status();
  EXPECT_THAT(health.status().message(), HasSubstr("owned by uid 65534"));
  // Told that uid 65534 runs the daemon, the CLI talks to it.
  ScopedEnv trust("SHMPORT_DAEMON_UID", "65534");
  health = connection->CheckHealth();
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, "serving");
}

// A daemon of another user that the client trusts explicitly (as in a
// socket_group deployment whose daemon runs as a service user).
TEST_F(ImpersonationTest, ClientThatExpectsTheOtherUidRegisters) {
  SessionOptions options;
  options.name = "trusting";
  options.expected_daemon_uid = kForeignUid;
  auto session = Session::Connect(options);
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_EQ(ImpostorRegistrations(), 1u);
}

}  // namespace
}  // namespace shmport::testing
