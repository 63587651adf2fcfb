// Acceptance 2: every ControlPlane RPC refuses bad input with the right
// gRPC code and a message naming the problem; nothing crashes the daemon
// and ListProcesses stays consistent.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/control/daemon_process.h"
#include "tests/control/raw_client.h"
#include "tests/util/child_process.h"

namespace shmport::testing {
namespace {

using ::testing::HasSubstr;

// One daemon for the suite: these tests only add uniquely named processes,
// and the last one checks that everything is still consistent.
class ApiErrorsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto d = DaemonProcess::Start();
    ASSERT_TRUE(d.ok()) << d.status();
    daemon_ = d->release();
  }
  static void TearDownTestSuite() {
    delete daemon_;
    daemon_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(daemon_, nullptr);
    stub_ = daemon_->NewStub();
  }

  grpc::Status Register(const std::string& name, int32_t pid = ::getpid(),
                        std::map<std::string, std::string> labels = {}) {
    v1::RegisterRequest request;
    request.set_name(name);
    request.set_pid(pid);
    for (auto& [k, v] : labels) (*request.mutable_labels())[k] = v;
    v1::RegisterResponse response;
    return stub_->Register(Context().get(), request, &response);
  }

  RawRegistration Attached(const std::string& name) {
    auto r = RegisterAndAttach(*stub_, name);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? std::move(*r) : RawRegistration{};
  }

  static DaemonProcess* daemon_;
  std::unique_ptr<v1::ControlPlane::Stub> stub_;
};

DaemonProcess* ApiErrorsTest::daemon_ = nullptr;

#define EXPECT_CODE(status, code, text)                                 \
  do {                                                                  \
    const grpc::Status s_ = (status);                                   \
    EXPECT_EQ(s_.error_code(), grpc::StatusCode::code) << Describe(s_); \
    EXPECT_THAT(s_.error_message(), HasSubstr(text));                   \
  } while (0)

TEST_F(ApiErrorsTest, RegisterWithEmptyNameIsInvalidArgument) {
  EXPECT_CODE(Register(""), INVALID_ARGUMENT, "name is empty");
}

TEST_F(ApiErrorsTest, RegisterWithOversizedNameNamesItsLength) {
  EXPECT_CODE(Register(std::string(65, 'a')), INVALID_ARGUMENT,
              "is 65 characters; at most 64");
}

TEST_F(ApiErrorsTest, RegisterWithBadCharacterNamesTheOffset) {
  EXPECT_CODE(Register("bad/name"), INVALID_ARGUMENT, "at offset 3");
  EXPECT_CODE(Register("-leading"), INVALID_ARGUMENT,
              "must start with a letter or digit");
}

TEST_F(ApiErrorsTest, RegisterWithNonPositivePidIsInvalidArgument) {
  EXPECT_CODE(Register("pid-zero", 0), INVALID_ARGUMENT, "pid 0");
  EXPECT_CODE(Register("pid-neg", -5), INVALID_ARGUMENT, "pid -5");
}

TEST_F(ApiErrorsTest, RegisterWithBadLabelsIsInvalidArgument) {
  EXPECT_CODE(Register("labels-1", ::getpid(), {{"", "x"}}), INVALID_ARGUMENT,
              "label key");
  EXPECT_CODE(Register("labels-2", ::getpid(), {{"k", std::string(256, 'v')}}),
              INVALID_ARGUMENT, "256 characters");
  std::map<std::string, std::string> many;
  for (int i = 0; i < 33; ++i) many[absl::StrCat("k", i)] = "v";
  EXPECT_CODE(Register("labels-3", ::getpid(), many), INVALID_ARGUMENT,
              "33 entries");
}

TEST_F(ApiErrorsTest, RegisterWithTakenNameIsAlreadyExistsNamingTheHolder) {
  // A name is taken once its holder attached (an unattached registration
  // reserves nothing: see registration_squatting_test).
  auto first = RegisterAndAttach(*stub_, "dup-name");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_CODE(Register("dup-name"), ALREADY_EXISTS,
              absl::StrCat("taken by process ", first->id));
}

TEST_F(ApiErrorsTest, OpenPortToUnknownNameIsNotFound) {
  RawRegistration a = Attached("open-unknown-a");
  v1::OpenPortResponse response;
  EXPECT_CODE(OpenPortByName(*stub_, a, "nobody-here", &response), NOT_FOUND,
              "no live process named 'nobody-here'");
}

TEST_F(ApiErrorsTest, OpenPortToUnknownIdIsNotFound) {
  RawRegistration a = Attached("open-unknown-id");
  v1::OpenPortRequest request;
  request.mutable_from()->set_id(a.id);
  request.mutable_to()->set_id(987654);
  request.set_session_token(a.token);
  v1::OpenPortResponse response;
  EXPECT_CODE(stub_->OpenPort(Context().get(), request, &response), NOT_FOUND,
              "no live process with id 987654");
}

TEST_F(ApiErrorsTest, OpenPortWithoutTargetIsInvalidArgument) {
  RawRegistration a = Attached("open-no-target");
  v1::OpenPortRequest request;
  request.mutable_from()->set_id(a.id);
  request.set_session_token(a.token);
  v1::OpenPortResponse response;
  EXPECT_CODE(stub_->OpenPort(Context().get(), request, &response),
              INVALID_ARGUMENT, "to names no process");
}

TEST_F(ApiErrorsTest, OpenPortToInvalidNameIsInvalidArgument) {
  RawRegistration a = Attached("open-bad-name");
  v1::OpenPortResponse response;
  EXPECT_CODE(OpenPortByName(*stub_, a, "no spaces", &response),
              INVALID_ARGUMENT, "to.name");
}

TEST_F(ApiErrorsTest, OpenPortToYourselfIsInvalidArgument) {
  RawRegistration a = Attached("self-opener");
  v1::OpenPortResponse response;
  EXPECT_CODE(OpenPortByName(*stub_, a, "self-opener", &response),
              INVALID_ARGUMENT, "to itself");
}

TEST_F(ApiErrorsTest, OpenPortWithoutTokenIsPermissionDenied) {
  RawRegistration a = Attached("tokenless-a");
  RawRegistration b = Attached("tokenless-b");
  v1::OpenPortRequest request;
  request.mutable_from()->set_id(a.id);
  request.mutable_to()->set_name("tokenless-b");
  v1::OpenPortResponse response;
  EXPECT_CODE(stub_->OpenPort(Context().get(), request, &response),
              PERMISSION_DENIED, "needs the session_token");
}

TEST_F(ApiErrorsTest, OpenPortWithAnotherProcessTokenIsPermissionDenied) {
  RawRegistration a = Attached("wrong-token-a");
  RawRegistration b = Attached("wrong-token-b");
  v1::OpenPortRequest request;
  request.mutable_from()->set_id(a.id);
  request.mutable_to()->set_name("wrong-token-b");
  request.set_session_token(b.token);
  v1::OpenPortResponse response;
  EXPECT_CODE(stub_->OpenPort(Context().get(), request, &response),
              PERMISSION_DENIED, "is not that of process 'wrong-token-a'");
}

TEST_F(ApiErrorsTest, WrongAdminTokenIsPermissionDenied) {
  RawRegistration a = Attached("bad-admin-a");
  v1::UnregisterRequest request;
  request.set_process_id(a.id);
  v1::UnregisterResponse response;
  EXPECT_CODE(
      stub_->Unregister(Context("not-the-token").get(), request, &response),
      PERMISSION_DENIED, "x-shmport-admin-token does not match");
}

TEST_F(ApiErrorsTest, OpenPortToUnattachedProcessIsFailedPrecondition) {
  RawRegistration a = Attached("to-unattached-a");
  auto b = RegisterOnly(*stub_, "to-unattached-b");
  ASSERT_TRUE(b.ok()) << b.status();
  v1::OpenPortResponse response;
  EXPECT_CODE(OpenPortByName(*stub_, a, "to-unattached-b", &response),
              FAILED_PRECONDITION, "has not attached its broker link yet");
}

TEST_F(ApiErrorsTest, OpenPortToDeadProcessIsNotFound) {
  RawRegistration a = Attached("to-dead-a");
  // A child registers itself via the test process's stub: it only attaches
  // (no gRPC in the child), then dies.
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  ChildProcess child = ChildProcess::Fork([&] {
    ::close(go[1]);
    char c;
    return ::read(go[0], &c, 1) >= 0 ? 0 : 1;
  });
  ::close(go[0]);
  v1::RegisterRequest request;
  request.set_name("to-dead-b");
  request.set_pid(child.pid());
  v1::RegisterResponse registered;
  ASSERT_TRUE(stub_->Register(Context().get(), request, &registered).ok());
  ::close(go[1]);
  ASSERT_EQ(child.Wait(), "exit 0");
  // Never attached and its pid is gone: it may linger until the attach
  // timeout, but a port to it must be refused either way.
  v1::OpenPortResponse response;
  const grpc::Status s = OpenPortByName(*stub_, a, "to-dead-b", &response);
  EXPECT_TRUE(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION ||
              s.error_code() == grpc::StatusCode::NOT_FOUND)
      << Describe(s);
}

TEST_F(ApiErrorsTest, OpenPortWithBadChunkSizeIsInvalidArgument) {
  RawRegistration a = Attached("geometry-a");
  RawRegistration b = Attached("geometry-b");
  v1::OpenPortRequest request;
  request.mutable_from()->set_id(a.id);
  request.mutable_to()->set_name("geometry-b");
  request.set_session_token(a.token);
  request.mutable_geometry()->set_chunk_size(5000);
  v1::OpenPortResponse response;
  EXPECT_CODE(stub_->OpenPort(Context().get(), request, &response),
              INVALID_ARGUMENT, "chunk_size 5000 must be a power of two");
}

TEST_F(ApiErrorsTest, OpenPortClampsOversizedGeometryToPolicy) {
  RawRegistration a = Attached("clamp-a");
  RawRegistration b = Attached("clamp-b");
  v1::OpenPortRequest request;
  request.mutable_from()->set_id(a.id);
  request.mutable_to()->set_name("clamp-b");
  request.set_session_token(a.token);
  request.set_dry_run(true);
  request.mutable_geometry()->set_chunk_size(64u << 20);
  request.mutable_geometry()->set_max_segments(1000);
  v1::OpenPortResponse response;
  ASSERT_TRUE(stub_->OpenPort(Context().get(), request, &response).ok());
  EXPECT_EQ(response.port_id(), 0u);
  EXPECT_EQ(response.geometry().chunk_size(), 4u << 20);
  EXPECT_LE(response.geometry().max_segments(), 8u);
  const uint64_t bytes = 2ull * response.geometry().max_segments() *
                         response.geometry().chunk_size() *
                         response.geometry().chunk_count();
  EXPECT_LE(bytes, 1ull << 30);
}

TEST_F(ApiErrorsTest, ClosePortErrorsNameThePort) {
  RawRegistration a = Attached("close-a");
  RawRegistration b = Attached("close-b");
  RawRegistration c = Attached("close-c");
  v1::ClosePortRequest request;
  v1::ClosePortResponse response;
  EXPECT_CODE(stub_->ClosePort(Context().get(), request, &response),
              INVALID_ARGUMENT, "port_id is 0");
  request.set_port_id(424242);
  EXPECT_CODE(stub_->ClosePort(Context().get(), request, &response), NOT_FOUND,
              "no open port with id 424242");

  v1::OpenPortResponse opened;
  ASSERT_TRUE(OpenPortByName(*stub_, a, "close-b", &opened).ok());
  request.set_port_id(opened.port_id());
  request.set_session_token(c.token);  // not an end of this port
  EXPECT_CODE(stub_->ClosePort(Context().get(), request, &response),
              PERMISSION_DENIED, "session_token of one of its ends");
  request.set_session_token(b.token);
  EXPECT_TRUE(stub_->ClosePort(Context().get(), request, &response).ok());
  EXPECT_CODE(stub_->ClosePort(Context().get(), request, &response), NOT_FOUND,
              "no open port");
}

TEST_F(ApiErrorsTest, UnregisterErrorsNameTheProcess) {
  RawRegistration a = Attached("unreg-a");
  RawRegistration b = Attached("unreg-b");
  v1::UnregisterRequest request;
  v1::UnregisterResponse response;
  EXPECT_CODE(stub_->Unregister(Context().get(), request, &response),
              INVALID_ARGUMENT, "process_id is 0");
  request.set_process_id(99999);
  EXPECT_CODE(stub_->Unregister(Context().get(), request, &response), NOT_FOUND,
              "no live process with id 99999");
  request.set_process_id(a.id);
  request.set_session_token(b.token);
  EXPECT_CODE(stub_->Unregister(Context().get(), request, &response),
              PERMISSION_DENIED, "'unreg-a'");
  request.set_session_token(a.token);
  EXPECT_TRUE(stub_->Unregister(Context().get(), request, &response).ok());
  // The daemon says goodbye on the link and closes it.
  auto bye = NextNotice(a.link, absl::Seconds(10));
  ASSERT_TRUE(bye.ok()) << bye.status();
  EXPECT_EQ(bye->frame.goodbye().reason(), "unregistered");
}

TEST_F(ApiErrorsTest, AdminMayUnregisterAnyProcess) {
  RawRegistration a = Attached("admin-victim");
  auto token = daemon_->AdminToken();
  ASSERT_TRUE(token.ok()) << token.status();
  v1::UnregisterRequest request;
  request.set_process_id(a.id);
  v1::UnregisterResponse response;
  EXPECT_TRUE(
      stub_->Unregister(Context(*token).get(), request, &response).ok());
}

TEST_F(ApiErrorsTest, ListPortsOfUnknownProcessIsNotFound) {
  v1::ListPortsRequest request;
  request.set_process_id(777777);
  v1::ListPortsResponse response;
  EXPECT_CODE(stub_->ListPorts(Context().get(), request, &response), NOT_FOUND,
              "777777");
}

// Runs last in the suite (gtest keeps declaration order): after all the
// abuse above, the daemon answers and its registry adds up.
TEST_F(ApiErrorsTest, ZzDaemonSurvivesAndRegistryStaysConsistent) {
  ASSERT_TRUE(daemon_->CheckHealth().ok());
  v1::ListProcessesResponse processes;
  ASSERT_TRUE(stub_->ListProcesses(Context().get(), {}, &processes).ok());
  v1::ListPortsResponse ports;
  ASSERT_TRUE(stub_->ListPorts(Context().get(), {}, &ports).ok());
  std::set<uint64_t> ids;
  std::set<std::string> names;
  std::map<uint64_t, uint32_t> port_counts;
  for (const auto& p : processes.processes()) {
    EXPECT_TRUE(ids.insert(p.id()).second) << "duplicate id " << p.id();
    EXPECT_TRUE(names.insert(p.name()).second) << "duplicate " << p.name();
  }
  for (const auto& port : ports.ports()) {
    EXPECT_TRUE(ids.contains(port.a().process_id()));
    EXPECT_TRUE(ids.contains(port.b().process_id()));
    ++port_counts[port.a().process_id()];
    ++port_counts[port.b().process_id()];
  }
  for (const auto& p : processes.processes()) {
    EXPECT_EQ(p.port_count(), port_counts[p.id()]) << p.name();
  }
  EXPECT_TRUE(daemon_->running());
}

// Limits, with a daemon configured tight enough to reach them.
class LimitsTest : public ::testing::Test {
 protected:
  void StartDaemon(const std::string& config) {
    auto d = DaemonProcess::Start({.config_text = config});
    ASSERT_TRUE(d.ok()) << d.status();
    daemon_ = std::move(*d);
    stub_ = daemon_->NewStub();
  }
  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<v1::ControlPlane::Stub> stub_;
};

TEST_F(LimitsTest, RegisterBeyondMaxProcessesIsResourceExhausted) {
  StartDaemon("limits { max_processes: 2 }");
  // Attached processes count; unattached registrations are bounded
  // separately (limits.max_unattached_registrations).
  auto p1 = RegisterAndAttach(*stub_, "p1");
  auto p2 = RegisterAndAttach(*stub_, "p2");
  ASSERT_TRUE(p1.ok() && p2.ok());
  auto third = RegisterOnly(*stub_, "p3");
  EXPECT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(third.status().message(), HasSubstr("limits.max_processes"));
}

TEST_F(LimitsTest, UnattachedRegistrationsBeyondTheirLimitEvictTheOldest) {
  StartDaemon("limits { max_unattached_registrations: 2 }");
  auto oldest = RegisterOnly(*stub_, "u1");
  auto middle = RegisterOnly(*stub_, "u2");
  auto newest = RegisterOnly(*stub_, "u3");  // evicts u1, not refused
  ASSERT_TRUE(oldest.ok() && middle.ok() && newest.ok());
  auto evicted = BrokerLink::Attach(oldest->broker_address, oldest->id,
                                    oldest->token, absl::Seconds(10));
  EXPECT_EQ(evicted.status().code(), absl::StatusCode::kNotFound);
  for (RawRegistration* kept : {&*middle, &*newest}) {
    auto link = BrokerLink::Attach(kept->broker_address, kept->id, kept->token,
                                   absl::Seconds(10));
    EXPECT_TRUE(link.ok()) << link.status();
  }
}

TEST_F(LimitsTest, OpenPortBeyondPortsPerProcessIsResourceExhausted) {
  StartDaemon("limits { max_ports_per_process: 1 }");
  auto a = RegisterAndAttach(*stub_, "hub");
  auto b = RegisterAndAttach(*stub_, "spoke-1");
  auto c = RegisterAndAttach(*stub_, "spoke-2");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  v1::OpenPortResponse response;
  ASSERT_TRUE(OpenPortByName(*stub_, *a, "spoke-1", &response).ok());
  const grpc::Status s = OpenPortByName(*stub_, *a, "spoke-2", &response);
  EXPECT_CODE(s, RESOURCE_EXHAUSTED, "'hub'");
  EXPECT_THAT(s.error_message(), HasSubstr("limits.max_ports_per_process"));
}

TEST_F(LimitsTest, RegistrationsBeyondRateAreResourceExhausted) {
  StartDaemon("limits { registrations_per_second: 1 registration_burst: 2 }");
  // Counted per uid at attach, where the kernel says who it is.
  auto r1 = RegisterAndAttach(*stub_, "r1");
  auto r2 = RegisterAndAttach(*stub_, "r2");
  ASSERT_TRUE(r1.ok() && r2.ok());
  auto third = RegisterAndAttach(*stub_, "r3");
  EXPECT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(third.status().message(), HasSubstr("retry in"));
  EXPECT_THAT(third.status().message(),
              HasSubstr(absl::StrCat("uid ", ::getuid())));
}

TEST_F(LimitsTest, PolicyDeniedPortIsPermissionDeniedNamingThePair) {
  StartDaemon(R"(policy {
    port_rules { from: "client-*" to: "router" }
  })");
  auto client = RegisterAndAttach(*stub_, "client-1");
  auto router = RegisterAndAttach(*stub_, "router");
  auto other = RegisterAndAttach(*stub_, "other");
  ASSERT_TRUE(client.ok() && router.ok() && other.ok());
  v1::OpenPortResponse response;
  EXPECT_TRUE(OpenPortByName(*stub_, *client, "router", &response).ok());
  EXPECT_CODE(OpenPortByName(*stub_, *other, "router", &response),
              PERMISSION_DENIED, "from 'other' to 'router'");
}

TEST_F(LimitsTest, AttachFromForbiddenUidIsPermissionDenied) {
  // Admit only a uid that is not ours: our own attach must be refused.
  StartDaemon(absl::StrCat("policy { allowed_uids: ", ::getuid() + 4242, " }"));
  auto r = RegisterAndAttach(*stub_, "wrong-uid");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(r.status().message(),
              HasSubstr(absl::StrCat("uid ", ::getuid())));
}

}  // namespace
}  // namespace shmport::testing
