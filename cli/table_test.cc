#include "cli/table.h"

#include "gtest/gtest.h"

namespace shmport::cli {
namespace {

using Align = Table::Align;

TEST(TableTest, PadsColumnsToTheWidestCellAndCapitalisesHeaders) {
  Table table({{"id", Align::kRight}, {"name"}, {"age"}});
  table.AddRow({"1", "router", "3m12s"});
  table.AddRow({"12", "w", "5s"});
  EXPECT_EQ(table.Render(),
            "ID  NAME    AGE\n"
            " 1  router  3m12s\n"
            "12  w       5s\n");
}

TEST(TableTest, EmptyTableRendersItsHeaderOnly) {
  Table table({{"id"}, {"name"}});
  EXPECT_EQ(table.Render(), "ID  NAME\n");
  EXPECT_EQ(table.row_count(), 0u);
}

TEST(TableTest, MissingCellsAreBlankAndExtraCellsDropped) {
  Table table({{"a"}, {"b"}});
  table.AddRow({"x"});
  table.AddRow({"1", "2", "3"});
  EXPECT_EQ(table.Render(),
            "A  B\n"
            "x  \n"
            "1  2\n");
}

TEST(TableTest, MultiByteCharactersCountAsOneColumn) {
  Table table({{"ends"}, {"n", Align::kRight}});
  table.AddRow({"a→b", "1"});
  table.AddRow({"ab", "22"});
  EXPECT_EQ(table.Render(),
            "ENDS   N\n"
            "a→b    1\n"
            "ab    22\n");
}

TEST(RenderKeyValuesTest, AlignsValuesAfterTheLongestKey) {
  EXPECT_EQ(RenderKeyValues({{"version", "0.1.0"}, {"pid", "7"}}),
            "version  0.1.0\n"
            "pid      7\n");
}

TEST(TableTest, FitToNarrowsTheElasticColumnAndCutsItsCells) {
  Table table({{"id", Align::kRight}, {"ends"}, {"rate", Align::kRight}});
  table.AddRow({"1", "worker-1 → router", "3.1 GB/s"});
  table.AddRow({"2", "w → r", "0 B/s"});
  table.FitTo(/*max_width=*/24, /*elastic_column=*/1);
  EXPECT_EQ(table.Render(),
            "ID  ENDS            RATE\n"
            " 1  worker-1 …  3.1 GB/s\n"
            " 2  w → r          0 B/s\n");
}

TEST(TableTest, FitToKeepsTheHeaderOfTheElasticColumnWhole) {
  Table table({{"a"}, {"name"}});
  table.AddRow({"xxxxxxxxxx", "yyyyyyyy"});
  table.FitTo(/*max_width=*/3, /*elastic_column=*/1);
  EXPECT_EQ(table.Render(), "A           NAME\nxxxxxxxxxx  yyy…\n");
}

TEST(FitToWidthTest, CutsByColumnsNotBytes) {
  EXPECT_EQ(FitToWidth("a → b", 5), "a → b");
  EXPECT_EQ(FitToWidth("a → bc", 5), "a → …");
  EXPECT_EQ(DisplayWidth(FitToWidth("→→→→→→", 4)), 4u);
  EXPECT_EQ(FitToWidth("abc", 0), "");
}

}  // namespace
}  // namespace shmport::cli
