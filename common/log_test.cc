#include "common/log.h"

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shmport {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;

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

}  // namespace
}  // namespace shmport
