// Fault injection (issue 11, hole 8): a daemon at its fd limit
// (RLIMIT_NOFILE) because a local process holds connections it never uses.
// accept(2) fails with EMFILE while the connections wait in the backlog, so
// the broker's accept loop must back off instead of spinning, its log must
// stay a few lines, and it must serve again once the fds are released.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "shmport/session.h"
#include "tests/control/daemon_process.h"
#include "tests/security/hostile_sockets.h"
#include "tests/util/eventually.h"
#include "tests/util/process_census.h"

namespace shmport::testing {
namespace {

constexpr int kDaemonFdLimit = 128;

int CountLines(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) ++n;
  return n;
}

// User plus system CPU time `pid` has used.
absl::Duration CpuTime(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)), {});
  // Fields after the ")" that ends the command name: state is field 3,
  // utime 14 and stime 15.
  std::vector<std::string> fields =
      absl::StrSplit(stat.substr(stat.rfind(')') + 2), ' ');
  if (fields.size() < 13) return absl::InfiniteDuration();
  const double ticks = std::stod(fields[11]) + std::stod(fields[12]);
  return absl::Seconds(ticks / static_cast<double>(::sysconf(_SC_CLK_TCK)));
}

std::string Hostile(HostileSockets& sockets, const std::string& line) {
  std::istringstream in(line);
  std::string command;
  in >> command;
  return sockets.Run(command, in).value_or("unknown command");
}

class AcceptLimitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sp-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    log_dir_ = tmpl;
    log_path_ = log_dir_ + "/shmportd.log";
  }
  void TearDown() override {
    if (::testing::Test::HasFailure()) {
      std::ifstream in(log_path_);
      std::string line;
      for (int i = 0; i < 40 && std::getline(in, line); ++i) {
        std::fprintf(stderr, "shmportd: %s\n", line.c_str());
      }
    }
    std::filesystem::remove_all(log_dir_);
  }

  std::string log_dir_;
  std::string log_path_;
};

TEST_F(AcceptLimitTest, BrokerAtTheFdLimitBacksOffAndServesOnceFdsReturn) {
  // Pending connections may pile up (the caps are above the fd limit), so
  // it is the fd limit that stops the broker.
  auto daemon = DaemonProcess::Start(
      {.config_text = "connections { broker_pending_timeout_ms: 60000 "
                      "max_pending_broker_connections_per_uid: 1000 "
                      "max_pending_broker_connections: 1000 }",
       .fd_limit = kDaemonFdLimit,
       .log_path = log_path_});
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  const pid_t pid = (*daemon)->pid();

  HostileSockets attacker;
  const std::string broker = (*daemon)->broker_address();
  ASSERT_EQ(Hostile(attacker, "hold broker " + broker + " 300"), "ok 300 0");
  ASSERT_TRUE(Eventually([&] { return CountOpenFds(pid) >= kDaemonFdLimit; }))
      << CountOpenFds(pid) << " fds";

  // At its limit, with connections still waiting in the backlog, for two
  // seconds (the window of observation, not a synchronisation): a loop
  // that retried accept would log and burn a core all the while.
  const int lines_before = CountLines(log_path_);
  const absl::Duration cpu_before = CpuTime(pid);
  absl::SleepFor(absl::Seconds(2));
  const int lines_during = CountLines(log_path_) - lines_before;
  const absl::Duration cpu_during = CpuTime(pid) - cpu_before;
  std::fprintf(stderr, "at the fd limit for 2 s: %d log lines, %s CPU\n",
               lines_during, absl::FormatDuration(cpu_during).c_str());
  EXPECT_LE(lines_during, 6) << "log lines in 2 s at the fd limit";
  EXPECT_LT(cpu_during, absl::Milliseconds(500));

  // Released, the daemon serves again within the longest pause (1 s).
  EXPECT_EQ(Hostile(attacker, "release"), "ok");
  SessionOptions o;
  o.name = "after-the-flood";
  o.address = (*daemon)->address();
  const absl::Time start = absl::Now();
  auto session = Session::Connect(o);
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_LE(CountLines(log_path_), 20);
}

}  // namespace
}  // namespace shmport::testing
