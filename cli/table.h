// Table: the plain-text tables shmportctl prints by default.
#ifndef SHMPORT_CLI_TABLE_H_
#define SHMPORT_CLI_TABLE_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace shmport::cli {

// Width in terminal columns: UTF-8 continuation bytes take none (the tables
// use "→" and "×").
size_t DisplayWidth(absl::string_view s);
// `s` if it fits in `width` columns, else its first width - 1 columns and
// "…".
std::string FitToWidth(absl::string_view s, size_t width);

// Columns separated by two spaces, each as wide as its widest cell, a header
// row in capitals, no borders: easy to read and to grep/awk. Numeric columns
// are right-aligned. Cells are printed as given (no truncation); the last
// column carries no trailing padding.
//
//   ID  NAME      PID    AGE
//    1  router    4242   3m12s
class Table {
 public:
  enum class Align { kLeft, kRight };
  struct Column {
    std::string header;
    Align align = Align::kLeft;
  };

  explicit Table(std::vector<Column> columns);

  // Appends one row. Missing cells are blank; extra cells are dropped.
  void AddRow(std::vector<std::string> cells);
  size_t row_count() const { return rows_.size(); }

  // Keeps rendered lines within `max_width` columns (0: no limit) by
  // narrowing column `elastic_column` (down to its header's width) and
  // cutting its cells with "…".
  void FitTo(size_t max_width, size_t elastic_column);

  // The table, header first, each line ending in '\n'. A table without rows
  // renders its header only.
  std::string Render() const;

 private:
  std::vector<size_t> ColumnWidths() const;

  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
  size_t max_width_ = 0;
  size_t elastic_column_ = 0;
};

// Two-column "key  value" lines, keys padded to the widest: for records such
// as `shmportctl status`.
std::string RenderKeyValues(
    const std::vector<std::pair<std::string, std::string>>& pairs);

}  // namespace shmport::cli

#endif  // SHMPORT_CLI_TABLE_H_
