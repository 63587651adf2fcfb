// The tables of a Markdown document, with the heading each sits under, so
// that tests can compare documented numbers with the code's.
#ifndef SHMPORT_TESTS_DOCS_MARKDOWN_TABLES_H_
#define SHMPORT_TESTS_DOCS_MARKDOWN_TABLES_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace shmport::testing {

struct MarkdownRow {
  int line = 0;  // 1-based line number in the document
  std::vector<std::string> cells;
};

struct MarkdownTable {
  std::string heading;              // the closest heading above, without #s
  std::vector<std::string> header;  // lower-cased column names
  std::vector<MarkdownRow> rows;    // data rows (the separator excluded)

  // Index of the column named `name`, or -1.
  int Column(absl::string_view name) const;
};

// Every pipe table of `markdown`. Cells are trimmed; "\|" inside a cell is a
// literal '|'. Fenced code blocks are skipped.
std::vector<MarkdownTable> ParseMarkdownTables(absl::string_view markdown);

// `text` without surrounding backticks and spaces: "`free_map[65]`" gives
// "free_map[65]".
std::string StripCode(absl::string_view text);

}  // namespace shmport::testing

#endif  // SHMPORT_TESTS_DOCS_MARKDOWN_TABLES_H_
