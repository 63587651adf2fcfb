// Security (issue 7): what the daemon leaves on disk and what it holds.
// The runtime directory and its files have the modes docs/control-plane.md
// documents (directory 0700, or 0750 for socket_group; sockets 0600, or
// 0660; admin.token 0600; nothing world-accessible), and the daemon never
// holds shared memory: no memfd among its fds or mappings while ports carry
// data, and opening ports costs it no fd at all.
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "shmport/session.h"
#include "tests/control/daemon_process.h"
#include "tests/control/raw_client.h"
#include "tests/load/worker_ring.h"
#include "tests/util/eventually.h"
#include "tests/util/process_census.h"

namespace shmport::testing {
namespace {

constexpr absl::Duration kBound = absl::Seconds(20);

// A parent directory under /tmp; the daemon creates `dir` inside it, so
// that the directory's mode is the daemon's doing.
class FreshRuntime {
 public:
  FreshRuntime() {
    char tmpl[] = "/tmp/shmport-mXXXXXX";
    if (::mkdtemp(tmpl) != nullptr) parent_ = tmpl;
  }
  ~FreshRuntime() {
    if (!parent_.empty()) std::filesystem::remove_all(parent_);
  }
  bool ok() const { return !parent_.empty(); }
  std::string dir() const { return parent_ + "/run"; }
  // Writes `config` next to the directory; returns the --config flag.
  std::string ConfigFlag(const std::string& config) const {
    const std::string path = parent_ + "/shmportd.textproto";
    std::ofstream(path) << config;
    return "--config=" + path;
  }

 private:
  std::string parent_;
};

struct stat StatOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st;
}

// Every entry of `dir`: owned by us, and nothing for "other".
void ExpectNothingWorldAccessible(const std::string& dir) {
  EXPECT_EQ(StatOf(dir).st_mode & 0007, 0u) << dir;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const struct stat st = StatOf(entry.path());
    EXPECT_EQ(st.st_mode & 0007, 0u) << entry.path();
    EXPECT_EQ(st.st_uid, ::getuid()) << entry.path();
  }
}

TEST(RuntimeFilesTest, DefaultDirectoryAndFilesAreOwnerOnly) {
  FreshRuntime fresh;
  ASSERT_TRUE(fresh.ok());
  auto daemon = DaemonProcess::Start({.directory = fresh.dir()});
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  const struct stat dir = StatOf(fresh.dir());
  EXPECT_TRUE(S_ISDIR(dir.st_mode));
  EXPECT_EQ(dir.st_mode & 07777, 0700u);
  EXPECT_EQ(dir.st_uid, ::getuid());
  const struct stat token = StatOf(fresh.dir() + "/admin.token");
  EXPECT_TRUE(S_ISREG(token.st_mode));
  EXPECT_EQ(token.st_mode & 07777, 0600u);
  EXPECT_EQ(token.st_size, 65);  // 64 hex digits and a newline
  for (const char* socket : {"/control.sock", "/broker.sock"}) {
    const struct stat st = StatOf(fresh.dir() + socket);
    EXPECT_TRUE(S_ISSOCK(st.st_mode)) << socket;
    EXPECT_EQ(st.st_mode & 07777, 0600u) << socket;
  }
  ExpectNothingWorldAccessible(fresh.dir());
}

TEST(RuntimeFilesTest, SocketGroupOpensTheDirectoryToThatGroupOnly) {
  const struct group* nogroup = ::getgrnam("nogroup");
  FreshRuntime fresh;
  ASSERT_TRUE(fresh.ok());
  // The daemon gives the directory to a group it is not in: that takes
  // root, outside a user namespace that maps only root.
  const std::string probe = fresh.dir() + ".probe";
  std::ofstream(probe) << "";
  if (nogroup == nullptr || ::chown(probe.c_str(), -1, nogroup->gr_gid) != 0) {
    GTEST_SKIP() << "needs the group 'nogroup' and the right to give files "
                    "to it (root, not in a user namespace)";
  }
  auto daemon = DaemonProcess::Start(
      {.extra_args = {fresh.ConfigFlag("socket_group: \"nogroup\"")},
       .directory = fresh.dir()});
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  const struct stat dir = StatOf(fresh.dir());
  EXPECT_EQ(dir.st_mode & 07777, 0750u);
  EXPECT_EQ(dir.st_gid, nogroup->gr_gid);
  for (const char* socket : {"/control.sock", "/broker.sock"}) {
    EXPECT_EQ(StatOf(fresh.dir() + socket).st_mode & 07777, 0660u) << socket;
  }
  // The operator's token stays the owner's alone.
  EXPECT_EQ(StatOf(fresh.dir() + "/admin.token").st_mode & 07777, 0600u);
  ExpectNothingWorldAccessible(fresh.dir());
}

// The fds and mappings of `pid` that are shared memory.
std::vector<std::string> SharedMemoryOf(pid_t pid) {
  std::vector<std::string> found;
  for (const std::string& fd : ListOpenFds(pid)) {
    if (absl::StrContains(fd, "memfd:") || absl::StrContains(fd, "/dev/shm")) {
      found.push_back(fd);
    }
  }
  std::ifstream maps(absl::StrCat("/proc/", pid, "/maps"));
  std::string line;
  while (std::getline(maps, line)) {
    if (absl::StrContains(line, "memfd:") ||
        absl::StrContains(line, "/dev/shm")) {
      found.push_back(line);
    }
  }
  return found;
}

TEST(DaemonMemoryTest, DaemonHoldsNoSharedMemoryWhilePortsCarryData) {
  auto daemon = DaemonProcess::Start();
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  auto stub = (*daemon)->NewStub();
  v1::GetStatsResponse stats;
  ASSERT_TRUE(stub->GetStats(Context().get(), {}, &stats).ok());
  const pid_t pid = (*daemon)->pid();
  const int idle_fds = CountOpenFds(pid);

  WorkerRingOptions options;
  options.workers = 4;
  options.ports_per_worker = 2;
  options.name_prefix = "mem";
  options.stream.messages_per_second = 100;
  auto ring = WorkerRing::Start(stub.get(), options);
  ASSERT_TRUE(ring.ok()) << ring.status();
  SessionOptions so;
  so.address = (*daemon)->address();
  so.name = "session-a";
  auto a = Session::Connect(so);
  so.name = "session-b";
  auto b = Session::Connect(so);
  ASSERT_TRUE(a.ok() && b.ok());

  // Opening ports between processes already attached costs no daemon fd:
  // it hands both socket ends over and closes its copies at once.
  const std::vector<std::string> attached = ListOpenFds(pid);
  std::vector<std::unique_ptr<Port>> ports;
  for (int i = 0; i < 10; ++i) {
    auto port = (*a)->OpenPort("session-b");
    ASSERT_TRUE(port.ok()) << port.status();
    ASSERT_TRUE((*port)->SendCopy(i, std::vector<uint8_t>(64 * 1024, i)).ok());
    ports.push_back(*std::move(port));
  }
  for (int i = 0; i < 10; ++i) {
    auto port = (*b)->AcceptPort(kBound);
    ASSERT_TRUE(port.ok()) << port.status();
    auto m = (*port)->Receive(kBound);
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_TRUE(m->in_shared_memory());
    ports.push_back(*std::move(port));
  }
  // (Eventually, and at most as many: a gRPC call in flight may hold an
  // fd for a moment, before or after.)
  EXPECT_TRUE(Eventually([&] {
    return ListOpenFds(pid).size() <= attached.size();
  })) << "the daemon kept fds of ports it opened: before\n  "
      << absl::StrJoin(attached, "\n  ") << "\nnow\n  "
      << absl::StrJoin(ListOpenFds(pid), "\n  ");
  // The workers stream over their shared memory meanwhile.
  EXPECT_TRUE(Eventually([&] {
    for (int i = 0; i < (*ring)->size(); ++i) {
      auto r = (*ring)->worker(i).Report(kBound);
      if (!r.ok() || r->messages_received < 50) return false;
    }
    return true;
  }));
  EXPECT_EQ(SharedMemoryOf(pid), std::vector<std::string>());

  ports.clear();
  a->reset();
  b->reset();
  ASSERT_TRUE((*ring)->FinishAll(kBound).ok());
  EXPECT_TRUE(Eventually([&] { return CountOpenFds(pid) <= idle_fds; }))
      << CountOpenFds(pid) << " fds, " << idle_fds << " when idle";
}

}  // namespace
}  // namespace shmport::testing
