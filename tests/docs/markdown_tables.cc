#include "tests/docs/markdown_tables.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace shmport::testing {
namespace {

// Splits "| a | b \| c |" into {"a", "b | c"}.
std::vector<std::string> SplitRow(absl::string_view line) {
  std::vector<std::string> cells;
  std::string cell;
  line = absl::StripAsciiWhitespace(line);
  absl::ConsumePrefix(&line, "|");
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == '|') {
      cell += '|';
      ++i;
    } else if (line[i] == '|') {
      cells.emplace_back(absl::StripAsciiWhitespace(cell));
      cell.clear();
    } else {
      cell += line[i];
    }
  }
  if (!absl::StripAsciiWhitespace(cell).empty()) {
    cells.emplace_back(absl::StripAsciiWhitespace(cell));
  }
  return cells;
}

bool IsSeparator(const std::vector<std::string>& cells) {
  if (cells.empty()) return false;
  for (const std::string& c : cells) {
    if (c.find_first_not_of(":-") != std::string::npos || c.empty()) {
      return false;
    }
  }
  return true;
}

}  // namespace

int MarkdownTable::Column(absl::string_view name) const {
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return static_cast<int>(i);
  }
  return -1;
}

std::vector<MarkdownTable> ParseMarkdownTables(absl::string_view markdown) {
  std::vector<MarkdownTable> tables;
  std::string heading;
  bool in_fence = false;
  MarkdownTable* open = nullptr;  // the table being read, if any
  int number = 0;
  for (absl::string_view line : absl::StrSplit(markdown, '\n')) {
    ++number;
    const absl::string_view trimmed = absl::StripAsciiWhitespace(line);
    if (absl::StartsWith(trimmed, "```")) {
      in_fence = !in_fence;
      open = nullptr;
      continue;
    }
    if (in_fence) continue;
    if (absl::StartsWith(trimmed, "#")) {
      heading = std::string(
          absl::StripAsciiWhitespace(absl::StripLeadingAsciiWhitespace(
              trimmed.substr(trimmed.find_first_not_of('#')))));
      open = nullptr;
      continue;
    }
    if (!absl::StartsWith(trimmed, "|")) {
      open = nullptr;
      continue;
    }
    std::vector<std::string> cells = SplitRow(trimmed);
    if (open == nullptr) {
      tables.push_back(MarkdownTable{heading, {}, {}});
      open = &tables.back();
      for (std::string& c : cells)
        open->header.push_back(absl::AsciiStrToLower(c));
      continue;
    }
    if (open->rows.empty() && IsSeparator(cells)) continue;
    open->rows.push_back({number, std::move(cells)});
  }
  return tables;
}

std::string StripCode(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  absl::ConsumePrefix(&text, "`");
  absl::ConsumeSuffix(&text, "`");
  return std::string(absl::StripAsciiWhitespace(text));
}

}  // namespace shmport::testing
