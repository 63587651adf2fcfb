#include "common/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include "common/deferred_logs.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shmport {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(LogTest, FormatsOneLogfmtLine) {
  const std::string line =
      FormatLogLine(LogLevel::kInfo, "port_opened",
                    {{"port", 3}, {"name", "worker-1"}, {"ok", true}});
  EXPECT_THAT(line, HasSubstr("level=info event=port_opened"));
  EXPECT_THAT(line, EndsWith(" port=3 name=worker-1 ok=true"));
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(LogTest, QuotesAndEscapesValuesThatNeedIt) {
  const std::string line =
      FormatLogLine(LogLevel::kError, "bad",
                    {{"reason", "peer said \"hi\"\nbye"}, {"empty", ""}});
  EXPECT_THAT(line, EndsWith(R"( reason="peer said \"hi\"\nbye" empty="")"));
}

TEST(LogTest, ParsesLevelNames) {
  LogLevel level = LogLevel::kInfo;
  EXPECT_TRUE(ParseLogLevel("DEBUG", &level));
  EXPECT_EQ(level, LogLevel::kDebug);
  EXPECT_TRUE(ParseLogLevel("warn", &level));
  EXPECT_EQ(level, LogLevel::kWarning);
  EXPECT_FALSE(ParseLogLevel("loud", &level));
  EXPECT_EQ(level, LogLevel::kWarning);
}

TEST(LogTest, SinkTakesTheLinesThatPassTheLevelUntilReset) {
  std::vector<std::pair<LogLevel, std::string>> taken;
  SetLogLevel(LogLevel::kInfo);
  SetLogSink([&](LogLevel level, absl::string_view line) {
    taken.emplace_back(level, std::string(line));
  });
  Log(LogLevel::kWarning, "session_daemon_lost", {{"process", 7}});
  Log(LogLevel::kDebug, "below_the_level");
  SetLogSink(nullptr);
  Log(LogLevel::kWarning, "after_reset");  // to stderr, not to `taken`
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].first, LogLevel::kWarning);
  EXPECT_THAT(taken[0].second,
              HasSubstr("level=warning event=session_daemon_lost process=7"));
  EXPECT_THAT(taken[0].second, ::testing::Not(EndsWith("\n")));
}

// Stderr redirected to a pipe for the life of the object.
class CapturedStderr {
 public:
  CapturedStderr() {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_NONBLOCK), 0);
    read_ = fds[0];
    saved_ = ::dup(STDERR_FILENO);
    ::dup2(fds[1], STDERR_FILENO);
    ::close(fds[1]);
  }
  ~CapturedStderr() {
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    ::close(read_);
  }
  // What was written so far (the pipe never blocks the reader).
  std::string Take() {
    std::string out;
    char buffer[4096];
    for (ssize_t n; (n = ::read(read_, buffer, sizeof(buffer))) > 0;) {
      out.append(buffer, n);
    }
    return out;
  }

 private:
  int read_ = -1;
  int saved_ = -1;
};

TEST(LogTest, DeferredLinesAreWrittenWhenTheOutermostScopeEnds) {
  const LogLevel was = GetLogLevel();
  SetLogLevel(LogLevel::kInfo);
  CapturedStderr err;
  {
    DeferredLogs outer;
    Log(LogLevel::kInfo, "first", {{"n", 1}});
    {
      DeferredLogs inner;
      Log(LogLevel::kInfo, "second");
    }
    EXPECT_EQ(err.Take(), "");  // held while any scope lives
    Log(LogLevel::kDebug, "dropped");
  }
  const std::string written = err.Take();
  EXPECT_THAT(written, HasSubstr("event=first n=1\n"));
  EXPECT_THAT(written, HasSubstr("event=second\n"));
  EXPECT_LT(written.find("event=first"), written.find("event=second"));
  EXPECT_THAT(written, Not(HasSubstr("dropped")));
  Log(LogLevel::kInfo, "undeferred");
  EXPECT_THAT(err.Take(), HasSubstr("event=undeferred\n"));
  SetLogLevel(was);
}

TEST(LogTest, DeferredLinesGoOutInWritesOfAtMostPipeBuf) {
  const LogLevel was = GetLogLevel();
  SetLogLevel(LogLevel::kInfo);
  CapturedStderr err;
  {
    DeferredLogs scope;
    const std::string value(1000, 'x');
    for (int i = 0; i < 10; ++i) Log(LogLevel::kInfo, "big", {{"v", value}});
    // More than PIPE_BUF is held: the earlier lines went out already.
    EXPECT_GE(err.Take().size(), 2000u);
  }
  EXPECT_GE(err.Take().size(), 1000u);
  SetLogLevel(was);
}

}  // namespace
}  // namespace shmport
