// ForeignUidTest: the fixture of the security tests that pit a process of
// another uid (ForeignProcess, uid 65534) against a daemon run by root. It
// makes a parent directory the other uid may traverse, starts shmportd in
// it with a given config, and spawns the foreign client. Tests skip
// without root.
#ifndef SHMPORT_TESTS_SECURITY_FOREIGN_UID_TEST_H_
#define SHMPORT_TESTS_SECURITY_FOREIGN_UID_TEST_H_

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "shmport/session.h"
#include "tests/control/daemon_process.h"
#include "tests/control/raw_client.h"
#include "tests/security/foreign_process.h"
#include "tests/util/eventually.h"

namespace shmport::testing {

inline constexpr absl::Duration kBound = absl::Seconds(20);

// A policy that admits this (root) process and the other uid.
inline std::string AdmitBoth() {
  return absl::StrCat("allowed_uids: [", ::getuid(), ", ", kForeignUid, "]");
}

class ForeignUidTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!CanSwitchUid()) {
      GTEST_SKIP() << "needs root (outside a user namespace) to run a "
                   << "process as uid " << kForeignUid
                   << " (nobody); CI runs the tests as root";
    }
    // A parent the other uid may traverse; the daemon creates run/ itself,
    // with the mode its config asks for.
    char tmpl[] = "/tmp/shmport-sXXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    parent_ = tmpl;
    ASSERT_EQ(::chmod(parent_.c_str(), 0755), 0);
    dir_ = parent_ + "/run";
  }

  void TearDown() override {
    foreign_.reset();
    daemon_.reset();
    if (!parent_.empty()) std::filesystem::remove_all(parent_);
  }

  // Starts shmportd with `config`. With `reachable_by_group`, the config
  // names socket_group "nogroup" (the other uid's group), so the daemon
  // gives the directory and the sockets to that group.
  void StartDaemon(std::string config, bool reachable_by_group = true) {
    if (reachable_by_group) config += "\nsocket_group: \"nogroup\"";
    const std::string config_path = parent_ + "/shmportd.textproto";
    std::ofstream(config_path) << config;
    auto daemon = DaemonProcess::Start(
        {.extra_args = {"--config=" + config_path}, .directory = dir_});
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = *std::move(daemon);
    stub_ = daemon_->NewStub();
  }

  void SpawnForeign() {
    auto foreign = ForeignProcess::Spawn({"--address=" + daemon_->address()});
    ASSERT_TRUE(foreign.ok()) << foreign.status();
    foreign_ = *std::move(foreign);
    ASSERT_EQ(Ask("whoami"),
              absl::StrCat("ok ", kForeignUid, " ", kForeignGid));
  }

  std::string Ask(const std::string& command) {
    auto answer = foreign_->Command(command);
    EXPECT_TRUE(answer.ok()) << answer.status();
    return answer.ok() ? *answer : answer.status().ToString();
  }

  std::vector<v1::ProcessInfo> Processes() {
    v1::ListProcessesResponse listed;
    EXPECT_TRUE(stub_->ListProcesses(Context().get(), {}, &listed).ok());
    return {listed.processes().begin(), listed.processes().end()};
  }

  // A raw Register of `name` by this (root) process, not attached.
  grpc::Status RegisterThisProcess(const std::string& name) {
    v1::RegisterRequest request;
    request.set_name(name);
    request.set_pid(::getpid());
    v1::RegisterResponse response;
    return stub_->Register(Context().get(), request, &response);
  }

  std::unique_ptr<Session> Connect(const std::string& name) {
    SessionOptions o;
    o.name = name;
    o.address = daemon_->address();
    auto session = Session::Connect(o);
    EXPECT_TRUE(session.ok()) << session.status();
    return session.ok() ? *std::move(session) : nullptr;
  }

  // What a rightful client of this (root) process does while an attack
  // runs: two Sessions, `prefix`-a and `prefix`-b, and a port from a to b.
  struct RightfulPort {
    std::unique_ptr<Session> a, b;
    std::unique_ptr<Port> port;  // null when any step failed (test fails)
    absl::Duration took;
  };
  RightfulPort OpenRightfulPort(const std::string& prefix) {
    RightfulPort r;
    const absl::Time start = absl::Now();
    r.a = Connect(prefix + "-a");
    r.b = Connect(prefix + "-b");
    if (r.a != nullptr && r.b != nullptr) {
      auto port = r.a->OpenPort(prefix + "-b");
      EXPECT_TRUE(port.ok()) << port.status();
      if (port.ok()) r.port = *std::move(port);
    }
    r.took = absl::Now() - start;
    return r;
  }

  std::string parent_;
  std::string dir_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<v1::ControlPlane::Stub> stub_;
  std::unique_ptr<ForeignProcess> foreign_;
};

}  // namespace shmport::testing

#endif  // SHMPORT_TESTS_SECURITY_FOREIGN_UID_TEST_H_
