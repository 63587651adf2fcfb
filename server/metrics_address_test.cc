#include "server/metrics_address.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shmport::server {
namespace {

using ::testing::HasSubstr;

TEST(MetricsAddressTest, LoopbackIpv4IsAccepted) {
  EXPECT_EQ(*ValidateMetricsListen("127.0.0.1:9464", false), "127.0.0.1:9464");
  EXPECT_EQ(*ValidateMetricsListen("127.3.2.1:0", false), "127.3.2.1:0");
}

TEST(MetricsAddressTest, LoopbackIpv6AndLocalhostAreAccepted) {
  EXPECT_EQ(*ValidateMetricsListen("[::1]:9464", false), "[::1]:9464");
  EXPECT_EQ(*ValidateMetricsListen("localhost:9464", false), "127.0.0.1:9464");
}

TEST(MetricsAddressTest, RemoteAddressIsRefusedNamingTheFlagToAllowIt) {
  for (const char* address : {"0.0.0.0:9464", "10.0.0.5:9464", "[::]:9464"}) {
    absl::StatusOr<std::string> r = ValidateMetricsListen(address, false);
    ASSERT_FALSE(r.ok()) << address;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(), HasSubstr("not a loopback address"));
    EXPECT_THAT(r.status().message(), HasSubstr("--metrics_allow_remote"));
  }
}

TEST(MetricsAddressTest, RemoteAddressIsAcceptedWhenAllowed) {
  EXPECT_EQ(*ValidateMetricsListen("0.0.0.0:9464", true), "0.0.0.0:9464");
  EXPECT_EQ(*ValidateMetricsListen("[::]:9464", true), "[::]:9464");
}

TEST(MetricsAddressTest, MalformedAddressesAreRefusedWithTheForm) {
  for (const char* address :
       {"9464", ":9464", "127.0.0.1", "127.0.0.1:http", "127.0.0.1:70000",
        "::1:9464", "[::1]9464", "example.com:9464"}) {
    absl::StatusOr<std::string> r = ValidateMetricsListen(address, true);
    ASSERT_FALSE(r.ok()) << address;
    EXPECT_THAT(r.status().message(), HasSubstr(address));
    EXPECT_THAT(r.status().message(), HasSubstr("HOST:PORT"));
  }
}

}  // namespace
}  // namespace shmport::server
