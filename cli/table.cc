#include "cli/table.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"

namespace shmport::cli {

size_t DisplayWidth(absl::string_view s) {
  size_t width = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++width;
  }
  return width;
}

std::string FitToWidth(absl::string_view s, size_t width) {
  if (DisplayWidth(s) <= width) return std::string(s);
  if (width == 0) return "";
  // Keep width - 1 columns, then the ellipsis; never split a UTF-8 sequence.
  std::string out;
  size_t columns = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const bool starts_column = (c & 0xC0) != 0x80;
    if (starts_column && columns == width - 1) break;
    if (starts_column) ++columns;
    out += s[i];
  }
  return out + "…";
}

namespace {

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

void Table::FitTo(size_t max_width, size_t elastic_column) {
  max_width_ = max_width;
  elastic_column_ = elastic_column;
}

std::vector<size_t> Table::ColumnWidths() const {
  std::vector<size_t> widths(columns_.size());
  size_t total = columns_.empty() ? 0 : 2 * (columns_.size() - 1);
  for (size_t i = 0; i < columns_.size(); ++i) {
    widths[i] = DisplayWidth(columns_[i].header);
    for (const auto& row : rows_) {
      widths[i] = std::max(widths[i], DisplayWidth(row[i]));
    }
    total += widths[i];
  }
  if (max_width_ > 0 && total > max_width_ &&
      elastic_column_ < columns_.size()) {
    // The elastic column gives up what it can, down to its header's width.
    size_t& w = widths[elastic_column_];
    const size_t floor = DisplayWidth(columns_[elastic_column_].header);
    w -= std::min(w - floor, total - max_width_);
  }
  return widths;
}

std::string Table::Render() const {
  const std::vector<size_t> widths = ColumnWidths();
  std::string out;
  auto append_line = [&](auto cell_of) {
    for (size_t i = 0; i < columns_.size(); ++i) {
      if (i > 0) out += "  ";
      AppendPadded(out, FitToWidth(cell_of(i), widths[i]), widths[i],
                   columns_[i].align, i + 1 == columns_.size());
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
