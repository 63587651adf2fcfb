#include "cli/json.h"

#include <cmath>
#include <cstdint>
#include <limits>

#include "gtest/gtest.h"

namespace shmport::cli {
namespace {

TEST(JsonTest, ScalarsSerialiseAsJsonLiterals) {
  EXPECT_EQ(Json().Serialize(), "null");
  EXPECT_EQ(Json(true).Serialize(), "true");
  EXPECT_EQ(Json(-7).Serialize(), "-7");
  EXPECT_EQ(Json(2.5).Serialize(), "2.5");
  EXPECT_EQ(Json(3.0).Serialize(), "3.0");
  EXPECT_EQ(Json("hi").Serialize(), "\"hi\"");
}

TEST(JsonTest, SixtyFourBitIntegersPrintExactly) {
  EXPECT_EQ(Json(std::numeric_limits<uint64_t>::max()).Serialize(),
            "18446744073709551615");
  EXPECT_EQ(Json(std::numeric_limits<int64_t>::min()).Serialize(),
            "-9223372036854775808");
}

TEST(JsonTest, DoublesPrintAsTheShortestTextThatReadsBack) {
  EXPECT_EQ(Json(0.1).Serialize(), "0.1");
  EXPECT_EQ(Json(922086937.1).Serialize(), "922086937.1");
  EXPECT_EQ(Json(1e300).Serialize(), "1e+300");
}

TEST(JsonTest, NonFiniteDoublesBecomeNull) {
  EXPECT_EQ(Json(std::nan("")).Serialize(), "null");
  EXPECT_EQ(Json(std::numeric_limits<double>::infinity()).Serialize(), "null");
}

TEST(JsonTest, ObjectsKeepInsertionOrderAndReplaceExistingKeys) {
  Json o = Json::Object();
  o.Set("b", 1).Set("a", 2).Set("b", 3);
  EXPECT_EQ(o.Serialize(), R"({"b":3,"a":2})");
}

TEST(JsonTest, NestedContainersSerialise) {
  Json o = Json::Object();
  o.Set("list", Json::Array().Append(1).Append(Json()).Append(Json::Object()));
  o.Set("empty", Json::Array());
  EXPECT_EQ(o.Serialize(), R"({"list":[1,null,{}],"empty":[]})");
}

TEST(JsonTest, CopiesDoNotShareLaterChanges) {
  Json a = Json::Object().Set("x", 1);
  Json b = a;
  b.Set("y", 2);
  EXPECT_EQ(a.Serialize(), R"({"x":1})");
  EXPECT_EQ(b.Serialize(), R"({"x":1,"y":2})");
}

TEST(JsonTest, PrettyOutputIndentsTwoSpacesPerLevel) {
  Json o = Json::Object().Set("a", Json::Array().Append(1)).Set("b", "c");
  EXPECT_EQ(o.SerializePretty(),
            "{\n"
            "  \"a\": [\n"
            "    1\n"
            "  ],\n"
            "  \"b\": \"c\"\n"
            "}");
}

TEST(JsonQuoteTest, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(JsonQuote("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(JsonQuote("line\nnext\ttab"), R"("line\nnext\ttab")");
  EXPECT_EQ(JsonQuote(absl::string_view("\x01\x7f", 2)), R"("\u0001\u007f")");
}

TEST(JsonQuoteTest, PassesUtf8Through) {
  EXPECT_EQ(JsonQuote("a→b"), "\"a→b\"");
}

}  // namespace
}  // namespace shmport::cli
