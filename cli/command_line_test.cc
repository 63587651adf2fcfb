#include "cli/command_line.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shmport::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Kind = FlagSpec::Kind;

const std::vector<FlagSpec>& Specs() {
  static const auto* specs = new std::vector<FlagSpec>{
      {"help", Kind::kBool, "", "show help"},
      {"json", Kind::kBool, "", "print JSON"},
      {"address", Kind::kString, "ADDR", "control address"},
      {"count", Kind::kCount, "N", "stop after N"},
      {"chunk-size", Kind::kBytes, "BYTES", "chunk size"},
      {"interval", Kind::kDuration, "DURATION", "refresh period"},
  };
  return *specs;
}

absl::StatusOr<ParsedArgs> Parse(std::vector<std::string> args) {
  return ParseCommandLine(args, Specs());
}

TEST(ParseCommandLineTest, ReadsFlagsInBothFormsAmongPositionals) {
  absl::StatusOr<ParsedArgs> p =
      Parse({"open", "--address", "unix:/x", "a", "--json", "--count=3", "b"});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_THAT(p->positional(), ElementsAre("open", "a", "b"));
  EXPECT_EQ(p->GetString("address"), "unix:/x");
  EXPECT_TRUE(p->GetBool("json"));
  EXPECT_EQ(p->GetCount("count", 0), 3u);
}

TEST(ParseCommandLineTest, AbsentFlagsGiveTheirFallbacks) {
  absl::StatusOr<ParsedArgs> p = Parse({});
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->Has("address"));
  EXPECT_FALSE(p->GetBool("json"));
  EXPECT_EQ(p->GetString("address", "dflt"), "dflt");
  EXPECT_EQ(p->GetCount("count", 7), 7u);
  EXPECT_EQ(p->GetDuration("interval", absl::Seconds(1)), absl::Seconds(1));
}

TEST(ParseCommandLineTest, DashesAndUnderscoresAreInterchangeable) {
  absl::StatusOr<ParsedArgs> p = Parse({"--chunk_size=64KiB"});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->GetBytes("chunk-size", 0), 65536u);
}

TEST(ParseCommandLineTest, ShortHIsHelp) {
  absl::StatusOr<ParsedArgs> p = Parse({"-h"});
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->GetBool("help"));
}

TEST(ParseCommandLineTest, DoubleDashEndsFlags) {
  absl::StatusOr<ParsedArgs> p = Parse({"--json", "--", "--count"});
  ASSERT_TRUE(p.ok());
  EXPECT_THAT(p->positional(), ElementsAre("--count"));
  EXPECT_FALSE(p->Has("count"));
}

TEST(ParseCommandLineTest, BoolTakesAnExplicitFalse) {
  absl::StatusOr<ParsedArgs> p = Parse({"--json=false"});
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->Has("json"));
  EXPECT_FALSE(p->GetBool("json"));
}

TEST(ParseCommandLineTest, UnknownFlagIsNamed) {
  absl::StatusOr<ParsedArgs> p = Parse({"--colour"});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(p.status().message(), HasSubstr("unknown flag --colour"));
}

TEST(ParseCommandLineTest, SingleDashOptionsAreRejected) {
  absl::StatusOr<ParsedArgs> p = Parse({"-j"});
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.status().message(), HasSubstr("-j"));
}

TEST(ParseCommandLineTest, MissingValueIsReported) {
  absl::StatusOr<ParsedArgs> p = Parse({"--address"});
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.status().message(), HasSubstr("--address needs a value"));
}

TEST(ParseCommandLineTest, ValuesOfTheWrongKindAreRejected) {
  for (const char* bad : {"--count=-1", "--count=x", "--chunk-size=lots",
                          "--interval=0s", "--interval=soon", "--json=yes"}) {
    absl::StatusOr<ParsedArgs> p = Parse({bad});
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(FormatFlagHelpTest, AlignsHelpTextAfterTheLongestFlag) {
  const std::vector<FlagSpec> specs = {
      {"json", Kind::kBool, "", "print JSON"},
      {"address", Kind::kString, "ADDR", "control address"},
  };
  EXPECT_EQ(FormatFlagHelp(specs),
            "  --json           print JSON\n"
            "  --address=ADDR   control address\n");
}

}  // namespace
}  // namespace shmport::cli
