#include "cli/human_units.h"

#include <cmath>
#include <limits>

#include "gtest/gtest.h"

namespace shmport::cli {
namespace {

TEST(FormatBytesTest, SmallValuesPrintInBytes) {
  EXPECT_EQ(FormatBytes(0), "0 B");
  EXPECT_EQ(FormatBytes(1), "1 B");
  EXPECT_EQ(FormatBytes(1023), "1023 B");
}

TEST(FormatBytesTest, ExactMultiplesPrintWithoutDecimals) {
  EXPECT_EQ(FormatBytes(1024), "1 KiB");
  EXPECT_EQ(FormatBytes(16 * 1024), "16 KiB");
  EXPECT_EQ(FormatBytes(16ull << 20), "16 MiB");
  EXPECT_EQ(FormatBytes(1ull << 30), "1 GiB");
}

TEST(FormatBytesTest, OtherValuesPrintOneDecimalInBinaryUnits) {
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
  EXPECT_EQ(FormatBytes(13002342), "12.4 MiB");
}

TEST(FormatBytesTest, RoundingUpToTheBaseMovesToTheNextUnit) {
  // 1048575 B is 1023.999 KiB: "1024.0 KiB" would be silly.
  EXPECT_EQ(FormatBytes(1048575), "1.0 MiB");
}

TEST(FormatBytesTest, LargestValueStaysInExbibytes) {
  EXPECT_EQ(FormatBytes(std::numeric_limits<uint64_t>::max()), "16 EiB");
}

TEST(FormatRateTest, UsesDecimalUnitsPerSecond) {
  EXPECT_EQ(FormatRate(0), "0 B/s");
  EXPECT_EQ(FormatRate(950), "950 B/s");
  EXPECT_EQ(FormatRate(12500), "12.5 kB/s");
  EXPECT_EQ(FormatRate(3.1e9), "3.1 GB/s");
}

TEST(FormatRateTest, NegativeOrNonFiniteRatesPrintADash) {
  EXPECT_EQ(FormatRate(-1), "-");
  EXPECT_EQ(FormatRate(std::nan("")), "-");
  EXPECT_EQ(FormatRate(std::numeric_limits<double>::infinity()), "-");
}

TEST(FormatCountTest, UsesSiSuffixes) {
  EXPECT_EQ(FormatCount(0), "0");
  EXPECT_EQ(FormatCount(950), "950");
  EXPECT_EQ(FormatCount(12500), "12.5k");
  EXPECT_EQ(FormatCount(1.2e6), "1.2M");
  EXPECT_EQ(FormatCount(-3), "-");
}

TEST(FormatAgeTest, ShowsAtMostTwoUnits) {
  EXPECT_EQ(FormatAge(absl::ZeroDuration()), "0s");
  EXPECT_EQ(FormatAge(absl::Seconds(45)), "45s");
  EXPECT_EQ(FormatAge(absl::Seconds(192)), "3m12s");
  EXPECT_EQ(FormatAge(absl::Hours(2) + absl::Minutes(5)), "2h05m");
  EXPECT_EQ(FormatAge(absl::Hours(76)), "3d04h");
}

TEST(FormatAgeTest, NegativeAgesPrintZero) {
  // A clock step can make "now - registered_at" negative.
  EXPECT_EQ(FormatAge(absl::Seconds(-5)), "0s");
}

TEST(ParseBytesTest, AcceptsPlainNumbersAndBinarySuffixes) {
  EXPECT_EQ(ParseBytes("65536").value(), 65536u);
  EXPECT_EQ(ParseBytes("64k").value(), 65536u);
  EXPECT_EQ(ParseBytes("64KiB").value(), 65536u);
  EXPECT_EQ(ParseBytes("4M").value(), 4u << 20);
  EXPECT_EQ(ParseBytes("4mib").value(), 4u << 20);
  EXPECT_EQ(ParseBytes("1GiB").value(), 1u << 30);
  EXPECT_EQ(ParseBytes("512B").value(), 512u);
}

TEST(ParseBytesTest, RejectsGarbageNegativesAndOverflowNamingTheText) {
  for (const char* bad : {"", "KiB", "-1", "1.5MiB", "12 KiB", "0x10", "4TiB",
                          "18446744073709551616", "17179869184GiB"}) {
    absl::StatusOr<uint64_t> parsed = ParseBytes(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find(bad), absl::string_view::npos)
        << parsed.status();
  }
}

}  // namespace
}  // namespace shmport::cli
