#include "cli/table.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"

namespace shmport::cli {
namespace {

// Display width in terminal columns: UTF-8 continuation bytes take none
// (the tables use "→" and "×").
size_t DisplayWidth(const std::string& s) {
  size_t width = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++width;
  }
  return width;
}

void AppendPadded(std::string& out, const std::string& cell, size_t width,
                  Table::Align align, bool last) {
  const size_t pad = width - std::min(width, DisplayWidth(cell));
  if (align == Table::Align::kRight) out.append(pad, ' ');
  out += cell;
  if (align == Table::Align::kLeft && !last) out.append(pad, ' ');
}

}  // namespace

Table::Table(std::vector<Column> columns) : columns_(std::move(columns)) {
  for (Column& c : columns_) c.header = absl::AsciiStrToUpper(c.header);
}

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(columns_.size());
  rows_.push_back(std::move(cells));
}

std::string Table::Render() const {
  std::vector<size_t> widths(columns_.size());
  for (size_t i = 0; i < columns_.size(); ++i) {
    widths[i] = DisplayWidth(columns_[i].header);
    for (const auto& row : rows_) {
      widths[i] = std::max(widths[i], DisplayWidth(row[i]));
    }
  }
  std::string out;
  auto append_line = [&](auto cell_of) {
    for (size_t i = 0; i < columns_.size(); ++i) {
      if (i > 0) out += "  ";
      AppendPadded(out, cell_of(i), widths[i], columns_[i].align,
                   i + 1 == columns_.size());
    }
    out += '\n';
  };
  append_line(
      [&](size_t i) -> const std::string& { return columns_[i].header; });
  for (const auto& row : rows_) {
    append_line([&](size_t i) -> const std::string& { return row[i]; });
  }
  return out;
}

std::string RenderKeyValues(
    const std::vector<std::pair<std::string, std::string>>& pairs) {
  size_t width = 0;
  for (const auto& [key, value] : pairs) {
    width = std::max(width, DisplayWidth(key));
  }
  std::string out;
  for (const auto& [key, value] : pairs) {
    out += key;
    out.append(width - DisplayWidth(key) + 2, ' ');
    out += value;
    out += '\n';
  }
  return out;
}

}  // namespace shmport::cli
