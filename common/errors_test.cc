#include "common/errors.h"

#include <errno.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shmport {
namespace {

using ::testing::HasSubstr;

TEST(ErrorsTest, ErrnoToStatusMapsTheCodeAndNamesTheCall) {
  const absl::Status s = ErrnoToStatus(EMFILE, "memfd_create");
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr("memfd_create"));
  EXPECT_THAT(s.message(), HasSubstr("errno 24"));
  EXPECT_EQ(ErrnoToStatus(EPIPE, "send").code(),
            absl::StatusCode::kUnavailable);
}

TEST(ErrorsTest, WouldBlockIsUnavailableButTellable) {
  EXPECT_TRUE(IsWouldBlock(WouldBlockError("send")));
  EXPECT_TRUE(absl::IsUnavailable(WouldBlockError("send")));
  EXPECT_FALSE(IsWouldBlock(absl::UnavailableError("send")));
}

TEST(ErrorsTest, StatusCodeFromWireKnowsOnlyErrorCodes) {
  constexpr auto kFallback = absl::StatusCode::kUnavailable;
  EXPECT_EQ(StatusCodeFromWire(8, kFallback),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(StatusCodeFromWire(1, kFallback), absl::StatusCode::kCancelled);
  EXPECT_EQ(StatusCodeFromWire(16, kFallback),
            absl::StatusCode::kUnauthenticated);
  for (int code : {0, -1, 17, 1 << 30}) {
    EXPECT_EQ(StatusCodeFromWire(code, kFallback), kFallback) << code;
  }
}

TEST(ErrorsTest, StatusFromWireKeepsKnownCodesAndNamesUnknownOnes) {
  EXPECT_TRUE(StatusFromWire(0, "ignored").ok());
  const absl::Status known = StatusFromWire(7, "policy says no");
  EXPECT_EQ(known.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(known.message(), "policy says no");
  for (int code : {-1, 17, 1 << 30}) {
    const absl::Status unknown = StatusFromWire(code, "from the future");
    EXPECT_EQ(unknown.code(), absl::StatusCode::kInternal) << code;
    EXPECT_THAT(unknown.message(),
                HasSubstr(absl::StrCat("unknown error code ", code)));
    EXPECT_THAT(unknown.message(), HasSubstr("from the future"));
  }
}

}  // namespace
}  // namespace shmport
