// Issue 13, acceptance 8: a process in a container (its own pid namespace,
// and its own mount namespace with the socket directory bind-mounted)
// registers, attaches and exchanges data with a process beside the daemon;
// identity still comes from the kernel, so a wrong declared pid, another
// container's process with the same pid, or a host process holding the
// token is refused. Needs root outside a user namespace (no-sandbox).
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/pid_namespace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/control/client_process.h"
#include "tests/control/daemon_process.h"
#include "tests/control/raw_client.h"
#include "tests/util/child_process.h"

namespace shmport::testing {
namespace {

using ::testing::HasSubstr;

const std::vector<std::string> kUnsharePid = {
    "/usr/bin/unshare", "--pid", "--fork", "--kill-child", "--mount-proc"};

// A process in a pid namespace of its own (pid 1 there), as in a
// container: it attaches the registrations the test hands it, on its own
// broker connections, and keeps the links until it ends.
class BoxedProcess {
 public:
  // Empty when this process may not make pid namespaces (not root).
  static std::unique_ptr<BoxedProcess> Start() {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) {
      return nullptr;
    }
    auto box = std::unique_ptr<BoxedProcess>(
        new BoxedProcess(ChildProcess::Fork([in, out] {
          ::close(in[1]);  // so that the box sees EOF when the test closes
          ::close(out[0]);
          return Run(in[0], out[1]);
        })));
    ::close(in[0]);
    ::close(out[1]);
    box->to_ = fdopen(in[1], "w");
    box->from_ = fdopen(out[0], "r");
    const std::string line = box->ReadLine();
    if (!absl::SimpleAtoi(line, &box->pid_)) return nullptr;
    return box;
  }

  ~BoxedProcess() {
    if (to_ != nullptr) std::fclose(to_);  // the box ends at EOF
    if (from_ != nullptr) std::fclose(from_);
    (void)child_.Wait(absl::Seconds(10));
  }

  // As the daemon's (this test's) pid namespace numbers it.
  pid_t pid() const { return pid_; }

  // Attach from inside the box; "OK" or the refusal.
  std::string Attach(const RawRegistration& r) {
    std::fprintf(to_, "%llu %s %s\n", static_cast<unsigned long long>(r.id),
                 r.token.c_str(), r.broker_address.c_str());
    std::fflush(to_);
    return ReadLine();
  }

 private:
  explicit BoxedProcess(ChildProcess child) : child_(std::move(child)) {}

  // The forked child: makes the namespace and its pid 1, says its pid.
  static int Run(int in, int out) {
    if (::unshare(CLONE_NEWPID) != 0) return 2;
    const pid_t inner = ::fork();
    if (inner < 0) return 3;
    if (inner == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // ends with the child if killed
      ::_exit(Serve(in, out));
    }
    const std::string said = absl::StrCat(inner, "\n");
    if (::write(out, said.data(), said.size()) < 0) return 4;
    int status = 0;
    ::waitpid(inner, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 5;
  }

  // Pid 1 of the new namespace: "id token address" in, the result out.
  static int Serve(int in, int out) {
    FILE* requests = fdopen(in, "r");
    std::vector<BrokerLink> links;
    char line[512];
    while (std::fgets(line, sizeof(line), requests) != nullptr) {
      std::vector<std::string> words =
          absl::StrSplit(absl::StripTrailingAsciiWhitespace(line), ' ');
      uint64_t id = 0;
      std::string answer = "bad request";
      if (words.size() == 3 && absl::SimpleAtoi(words[0], &id)) {
        absl::StatusOr<BrokerLink> link =
            BrokerLink::Attach(words[2], id, words[1], absl::Seconds(10));
        answer = link.ok() ? "OK" : link.status().ToString();
        if (link.ok()) links.push_back(std::move(*link));
      }
      answer += "\n";
      if (::write(out, answer.data(), answer.size()) < 0) return 1;
    }
    return 0;
  }

  std::string ReadLine() {
    char line[1024];
    if (std::fgets(line, sizeof(line), from_) == nullptr) return "EOF";
    return std::string(absl::StripTrailingAsciiWhitespace(line));
  }

  ChildProcess child_;
  FILE* to_ = nullptr;
  FILE* from_ = nullptr;
  pid_t pid_ = 0;
};

const v1::ProcessInfo* Find(const v1::ListProcessesResponse& list,
                            const std::string& name) {
  for (const v1::ProcessInfo& p : list.processes()) {
    if (p.name() == name) return &p;
  }
  return nullptr;
}

class ContainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root for pid namespaces";
    auto daemon = DaemonProcess::Start();
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = std::move(*daemon);
    stub_ = daemon_->NewStub();
    absl::StatusOr<uint64_t> ns = PidNamespaceOf(0);
    ASSERT_TRUE(ns.ok()) << ns.status();
    host_namespace_ = *ns;
  }

  // A control_client echo worker under `wrapper`, registered as `name`, and
  // a host control_client that sends it `kMessages` and checks the echoes.
  void ExchangeWithAWorkerUnder(std::vector<std::string> wrapper,
                                const std::string& name) {
    auto worker = ClientProcess::SpawnUnder(
        std::move(wrapper),
        {"--address=" + daemon_->address(), "--name=" + name, "--mode=echo",
         absl::StrCat("--messages=", kMessages)});
    ASSERT_TRUE(worker.ok()) << worker.status();
    absl::StatusOr<std::string> registered = worker->ReadLine(kTimeout);
    ASSERT_TRUE(registered.ok()) << registered.status();
    ASSERT_THAT(*registered, HasSubstr("registered ")) << *registered;

    auto host = ClientProcess::Spawn(
        {"--address=" + daemon_->address(), "--name=host", "--mode=send",
         "--peer=" + name, absl::StrCat("--messages=", kMessages),
         "--payload=65536"});
    ASSERT_TRUE(host.ok()) << host.status();
    EXPECT_THAT(host->ReadLine(kTimeout).value_or(""), HasSubstr("registered"));
    absl::StatusOr<std::string> sent = host->ReadLine(kTimeout);
    ASSERT_TRUE(sent.ok()) << sent.status();
    EXPECT_THAT(*sent, HasSubstr(absl::StrCat("sent ", kMessages, " port")));
    absl::StatusOr<std::string> echoed = worker->ReadLine(kTimeout);
    ASSERT_TRUE(echoed.ok()) << echoed.status();
    EXPECT_EQ(*echoed, absl::StrCat("echoed ", kMessages));

    // ps: the worker under the daemon's numbering, pid 1 in its namespace.
    v1::ListProcessesResponse list;
    ASSERT_TRUE(stub_->ListProcesses(Context().get(), {}, &list).ok());
    const v1::ProcessInfo* boxed = Find(list, name);
    const v1::ProcessInfo* beside = Find(list, "host");
    ASSERT_NE(boxed, nullptr);
    ASSERT_NE(beside, nullptr);
    EXPECT_EQ(boxed->namespace_pid(), 1);
    EXPECT_NE(boxed->pid(), 1);
    EXPECT_EQ(InnermostPid(boxed->pid()).value_or(0), 1);
    EXPECT_NE(boxed->pid_namespace(), host_namespace_);
    EXPECT_EQ(PidNamespaceOf(boxed->pid()).value_or(0), boxed->pid_namespace());
    EXPECT_EQ(beside->pid(), host->pid());
    EXPECT_EQ(beside->namespace_pid(), host->pid());
    EXPECT_EQ(beside->pid_namespace(), host_namespace_);
    EXPECT_EQ(host->Finish(kTimeout).value_or(-1), 0);
    EXPECT_EQ(worker->Finish(kTimeout).value_or(-1), 0);
  }

  static constexpr int kMessages = 20;
  static constexpr absl::Duration kTimeout = absl::Seconds(20);
  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<v1::ControlPlane::Stub> stub_;
  uint64_t host_namespace_ = 0;
};

TEST_F(ContainerTest, WorkerInItsOwnPidNamespaceExchangesDataWithTheHost) {
  ExchangeWithAWorkerUnder(kUnsharePid, "boxed");
}

// The container sees none of /tmp but the socket directory, bind-mounted
// at the same path (the daemon names its broker socket by that path).
TEST_F(ContainerTest, WorkerInItsOwnMountNamespaceUsesTheBoundSocketDir) {
  std::vector<std::string> wrapper = kUnsharePid;
  wrapper.insert(
      wrapper.end(),
      {"/bin/sh", "-c",
       absl::StrCat("set -e; d='", daemon_->directory(),
                    "'; mount --bind \"$d\" /mnt; mount -t tmpfs tmpfs /tmp; "
                    "mkdir -p \"$d\"; mount --move /mnt \"$d\"; "
                    "test -S \"$d/control.sock\"; exec \"$0\" \"$@\"")});
  ExchangeWithAWorkerUnder(std::move(wrapper), "mounted");
}

TEST_F(ContainerTest, AttachFromAContainerIsCheckedAgainstItsOwnPidThere) {
  std::unique_ptr<BoxedProcess> box = BoxedProcess::Start();
  std::unique_ptr<BoxedProcess> other_box = BoxedProcess::Start();
  ASSERT_NE(box, nullptr);
  ASSERT_NE(other_box, nullptr);
  absl::StatusOr<uint64_t> box_namespace = PidNamespaceOf(box->pid());
  ASSERT_TRUE(box_namespace.ok()) << box_namespace.status();
  ASSERT_NE(*box_namespace, host_namespace_);

  // Declared pid 2 in the box's namespace: the box's process is pid 1.
  auto wrong_pid = RegisterDeclaring(*stub_, "w", 2, *box_namespace);
  ASSERT_TRUE(wrong_pid.ok()) << wrong_pid.status();
  EXPECT_THAT(box->Attach(*wrong_pid),
              HasSubstr(absl::StrCat("PERMISSION_DENIED: process 'w' (id ",
                                     wrong_pid->id,
                                     "): the broker link comes "
                                     "from pid ",
                                     box->pid(),
                                     " (pid 1 in pid "
                                     "namespace ",
                                     *box_namespace, ")")));

  // Declared pid 1 in the box's namespace: the other box's pid 1 (another
  // container) and the host process holding the token are not it.
  auto r = RegisterDeclaring(*stub_, "r", 1, *box_namespace);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(other_box->Attach(*r),
              HasSubstr(absl::StrCat("declared pid 1 in pid namespace ",
                                     *box_namespace)));
  auto from_host =
      BrokerLink::Attach(r->broker_address, r->id, r->token, kTimeout);
  EXPECT_EQ(from_host.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(from_host.status().message(),
              HasSubstr(absl::StrCat("comes from pid ", ::getpid(), " (pid ",
                                     ::getpid(), " in pid namespace ",
                                     host_namespace_, ")")));

  // Declared as the daemon numbers pid 1 (its init): not the box either.
  auto host_one = RegisterDeclaring(*stub_, "init", 1, 0);
  ASSERT_TRUE(host_one.ok()) << host_one.status();
  EXPECT_THAT(box->Attach(*host_one),
              HasSubstr(absl::StrCat("comes from pid ", box->pid(),
                                     " but the registration declared pid 1")));

  // Its own registration attaches, refusals above notwithstanding.
  EXPECT_EQ(box->Attach(*r), "OK");
  v1::GetStatsResponse stats;
  ASSERT_TRUE(stub_->GetStats(Context().get(), {}, &stats).ok());
  EXPECT_EQ(stats.daemon().attach_refused(), 4u);

  // Its peer beside the daemon is told the kernel's pid for it here.
  auto host = RegisterAndAttach(*stub_, "host");
  ASSERT_TRUE(host.ok()) << host.status();
  v1::OpenPortResponse opened;
  grpc::Status open = OpenPortByName(*stub_, *host, "r", &opened);
  ASSERT_TRUE(open.ok()) << Describe(open);
  auto notice = NextNotice(host->link, kTimeout);
  ASSERT_TRUE(notice.ok()) << notice.status();
  ASSERT_TRUE(notice->frame.has_port_opened());
  const v1::PeerIdentity& peer = notice->frame.port_opened().peer();
  EXPECT_EQ(peer.pid(), box->pid());
  EXPECT_EQ(peer.namespace_pid(), 1);
  EXPECT_EQ(peer.pid_namespace(), *box_namespace);
}

}  // namespace
}  // namespace shmport::testing
