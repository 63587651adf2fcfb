#include "common/grpc_status.h"

#include "gtest/gtest.h"

namespace shmport {
namespace {

TEST(GrpcStatusTest, CodeAndMessageCrossBothWays) {
  const grpc::Status out =
      ToGrpcStatus(absl::ResourceExhaustedError("limits.max_ports is 8"));
  EXPECT_EQ(out.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(out.error_message(), "limits.max_ports is 8");
  const absl::Status back = FromGrpcStatus(out);
  EXPECT_EQ(back.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(back.message(), "limits.max_ports is 8");
}

TEST(GrpcStatusTest, OkStaysOk) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
}

TEST(GrpcStatusTest, EveryCodeKeepsItsNumber) {
  for (int code = 1; code <= 16; ++code) {
    const absl::Status s(static_cast<absl::StatusCode>(code), "x");
    EXPECT_EQ(static_cast<int>(ToGrpcStatus(s).error_code()), code);
    EXPECT_EQ(FromGrpcStatus(ToGrpcStatus(s)).code(), s.code());
  }
}

}  // namespace
}  // namespace shmport
