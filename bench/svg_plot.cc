#include "bench/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "bench/report.h"

namespace shmport::bench {
namespace {

constexpr double kWidth = 1200;
constexpr double kHeight = 575;
constexpr double kPanelWidth = 490;  // plot area of one panel
constexpr double kPanelHeight = 340;
constexpr double kPanelTop = 92;
constexpr double kPanelLeft[2] = {90, 680};
// The legend: a row under the panels, more rows when there are many lines.
constexpr size_t kLegendPerRow = 7;
constexpr double kLegendRowHeight = 22;

struct Style {
  const char* color;
  const char* dash;  // stroke-dasharray, "" for solid
};

constexpr char kNoneSuffix[] = " (touch=none)";

// A line of the plot: the transport, marked when its payloads were not
// touched.
std::string SeriesName(const CellSummary& c) {
  return c.touch == Touch::kAll ? c.transport
                                : absl::StrCat(c.transport, kNoneSuffix);
}

// A transport's colour; touch=none series are dotted in the same colour.
Style StyleOf(absl::string_view series) {
  static const std::map<std::string, Style, std::less<>> known = {
      {"shmport", {"#1f77b4", ""}},      {"shmport-spin", {"#17becf", ""}},
      {"shmport-c", {"#1f77b4", "4,2"}}, {"unix", {"#ff7f0e", ""}},
      {"pipe", {"#2ca02c", ""}},         {"grpc", {"#d62728", ""}},
      {"memcpy", {"#555555", "6,4"}},    {"handoff", {"#000000", "8,3,2,3"}},
  };
  const bool none = absl::ConsumeSuffix(&series, kNoneSuffix);
  Style style = {"#9467bd", "2,3"};
  if (auto it = known.find(series); it != known.end()) style = it->second;
  if (none) style.dash = "1,3";
  return style;
}

std::string Escape(absl::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string DecadeLabel(int exponent) {
  if (exponent >= 0 && exponent <= 6) {
    return absl::StrCat(static_cast<int64_t>(std::pow(10.0, exponent)));
  }
  if (exponent < 0 && exponent >= -4) {
    return absl::StrFormat("%.*f", -exponent, std::pow(10.0, exponent));
  }
  return absl::StrCat("1e", exponent);
}

// One log-log panel: x = payload bytes, y = a positive metric.
struct Panel {
  double left;
  std::string title;
  std::string y_label;
  Mode mode;
  std::function<const Spread&(const CellSummary&)> metric;
};

std::string DrawPanel(const Panel& panel, const std::vector<CellSummary>& cells,
                      const std::vector<std::string>& order) {
  std::vector<const CellSummary*> mine;
  std::set<size_t> payloads;
  double lo = std::numeric_limits<double>::infinity();
  double hi = 0;
  for (const CellSummary& c : cells) {
    if (c.mode != panel.mode) continue;
    const Spread& s = panel.metric(c);
    if (!(s.median > 0)) continue;
    mine.push_back(&c);
    payloads.insert(c.payload_bytes);
    lo = std::min(lo, s.min > 0 ? s.min : s.median);
    hi = std::max(hi, s.max);
  }
  const double left = panel.left;
  const double right = left + kPanelWidth;
  const double top = kPanelTop;
  const double bottom = top + kPanelHeight;
  std::string out;
  absl::StrAppendFormat(
      &out, "<text x=\"%.1f\" y=\"%.1f\" class=\"panel\">%s</text>\n",
      left + kPanelWidth / 2, top - 12, Escape(panel.title));
  absl::StrAppendFormat(&out,
                        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                        "height=\"%.1f\" class=\"frame\"/>\n",
                        left, top, kPanelWidth, kPanelHeight);
  if (mine.empty()) {
    absl::StrAppendFormat(&out,
                          "<text x=\"%.1f\" y=\"%.1f\" class=\"panel\">no "
                          "data</text>\n",
                          left + kPanelWidth / 2, top + kPanelHeight / 2);
    return out;
  }
  // Axes: x spans the payloads with half an octave either side; y whole
  // decades around the data.
  const double x0 = std::log2(static_cast<double>(*payloads.begin())) - 0.5;
  const double x1 = std::log2(static_cast<double>(*payloads.rbegin())) + 0.5;
  const int d0 = static_cast<int>(std::floor(std::log10(lo)));
  int d1 = static_cast<int>(std::ceil(std::log10(hi)));
  if (d1 <= d0) d1 = d0 + 1;
  auto px = [&](size_t payload) {
    return left + (std::log2(static_cast<double>(payload)) - x0) / (x1 - x0) *
                      kPanelWidth;
  };
  auto py = [&](double v) {
    return bottom - (std::log10(v) - d0) / (d1 - d0) * kPanelHeight;
  };

  for (int d = d0; d <= d1; ++d) {
    const double y = py(std::pow(10.0, d));
    absl::StrAppendFormat(&out,
                          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                          "y2=\"%.1f\" class=\"grid\"/>\n",
                          left, y, right, y);
    absl::StrAppendFormat(&out,
                          "<text x=\"%.1f\" y=\"%.1f\" class=\"ytick\">%s"
                          "</text>\n",
                          left - 6, y + 4, DecadeLabel(d));
    if (d == d1) break;
    for (int m = 2; m <= 9; ++m) {
      const double ym = py(m * std::pow(10.0, d));
      absl::StrAppendFormat(&out,
                            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                            "y2=\"%.1f\" class=\"minor\"/>\n",
                            left, ym, right, ym);
    }
  }
  for (size_t p : payloads) {
    const double x = px(p);
    absl::StrAppendFormat(&out,
                          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                          "y2=\"%.1f\" class=\"grid\"/>\n",
                          x, top, x, bottom);
    absl::StrAppendFormat(&out,
                          "<text x=\"%.1f\" y=\"%.1f\" class=\"xtick\">%s"
                          "</text>\n",
                          x, bottom + 18, Escape(FormatPayload(p)));
  }
  absl::StrAppendFormat(&out,
                        "<text x=\"%.1f\" y=\"%.1f\" class=\"axis\">payload "
                        "size (log scale)</text>\n",
                        left + kPanelWidth / 2, bottom + 44);
  absl::StrAppendFormat(&out,
                        "<text transform=\"translate(%.1f,%.1f) rotate(-90)\" "
                        "class=\"axis\">%s</text>\n",
                        left - 58, top + kPanelHeight / 2,
                        Escape(panel.y_label));

  for (const std::string& name : order) {
    std::vector<const CellSummary*> line;
    for (const CellSummary* c : mine) {
      if (SeriesName(*c) == name) line.push_back(c);
    }
    if (line.empty()) continue;
    std::sort(line.begin(), line.end(), [](auto* a, auto* b) {
      return a->payload_bytes < b->payload_bytes;
    });
    const Style style = StyleOf(name);
    std::vector<std::string> points;
    for (const CellSummary* c : line) {
      const Spread& s = panel.metric(*c);
      points.push_back(
          absl::StrFormat("%.1f,%.1f", px(c->payload_bytes), py(s.median)));
    }
    absl::StrAppendFormat(
        &out,
        "<polyline class=\"series\" data-transport=\"%s\" "
        "points=\"%s\" stroke=\"%s\"%s/>\n",
        Escape(name), absl::StrJoin(points, " "), style.color,
        *style.dash ? absl::StrCat(" stroke-dasharray=\"", style.dash, "\"")
                    : "");
    for (const CellSummary* c : line) {
      const Spread& s = panel.metric(*c);
      const double x = px(c->payload_bytes);
      if (s.min > 0 && s.max > s.min) {
        absl::StrAppendFormat(&out,
                              "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                              "y2=\"%.1f\" stroke=\"%s\" class=\"whisker\"/>\n",
                              x, py(s.min), x, py(s.max), style.color);
      }
      absl::StrAppendFormat(&out,
                            "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" "
                            "fill=\"%s\"><title>%s %s: %.4g</title></circle>\n",
                            x, py(s.median), style.color, Escape(name),
                            Escape(FormatPayload(c->payload_bytes)), s.median);
    }
  }
  return out;
}

// What the reference lines and the touch=none lines are, for those drawn.
std::string ReferencesNote(const std::vector<CellSummary>& cells) {
  bool handoff = false, none = false;
  for (const CellSummary& c : cells) {
    handoff |= c.transport == kHandoffName;
    none |= c.touch == Touch::kNone;
  }
  std::vector<std::string> notes;
  if (handoff) {
    notes.push_back(
        "handoff: the same workload through bare shared memory and a "
        "busy-polled flag (the ceiling)");
  }
  if (none) {
    notes.push_back(absl::StrCat("dotted (touch=none): only the ",
                                 kMinPayloadBytes,
                                 "-byte header written and read, as iceperf"));
  }
  return absl::StrJoin(notes, "; ");
}

}  // namespace

std::string RenderSvg(const std::vector<CellSummary>& cells,
                      absl::string_view subtitle) {
  std::vector<std::string> order;
  int reps = 0;
  for (const CellSummary& c : cells) {
    const std::string series = SeriesName(c);
    if (std::find(order.begin(), order.end(), series) == order.end()) {
      order.push_back(series);
    }
    reps = std::max(reps, c.reps);
  }
  const size_t legend_rows =
      std::max<size_t>(1, (order.size() + kLegendPerRow - 1) / kLegendPerRow);
  const double height =
      kHeight + kLegendRowHeight * static_cast<double>(legend_rows - 1);
  std::string out = absl::StrFormat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
      "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
      "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n",
      kWidth, height, kWidth, height);
  absl::StrAppend(
      &out,
      "<style>\n"
      "  .title { font-size: 18px; font-weight: bold; text-anchor: middle; }\n"
      "  .subtitle { font-size: 12px; fill: #444; text-anchor: middle; }\n"
      "  .panel { font-size: 14px; font-weight: bold; text-anchor: middle; }\n"
      "  .axis { font-size: 13px; text-anchor: middle; }\n"
      "  .xtick { font-size: 11px; text-anchor: middle; }\n"
      "  .ytick { font-size: 11px; text-anchor: end; }\n"
      "  .legend { font-size: 13px; }\n"
      "  .frame { fill: none; stroke: #333; stroke-width: 1; }\n"
      "  .grid { stroke: #ccc; stroke-width: 1; }\n"
      "  .minor { stroke: #eee; stroke-width: 1; }\n"
      "  .series { fill: none; stroke-width: 2.2; }\n"
      "  .whisker { stroke-width: 1.5; }\n"
      "</style>\n");
  absl::StrAppendFormat(
      &out, "<rect width=\"%.0f\" height=\"%.0f\" fill=\"white\"/>\n", kWidth,
      height);
  absl::StrAppendFormat(
      &out,
      "<text x=\"%.1f\" y=\"28\" class=\"title\">shmport vs. other local "
      "transports (median of %d reps, whiskers: min-max)</text>\n",
      kWidth / 2, reps);
  absl::StrAppendFormat(&out,
                        "<text x=\"%.1f\" y=\"48\" class=\"subtitle\">%s"
                        "</text>\n",
                        kWidth / 2, Escape(subtitle));
  absl::StrAppendFormat(&out,
                        "<text x=\"%.1f\" y=\"66\" class=\"subtitle\">%s"
                        "</text>\n",
                        kWidth / 2, Escape(ReferencesNote(cells)));
  const Panel panels[2] = {
      {kPanelLeft[0], "One-way throughput (higher is better)",
       "GB/s (payload bytes, log scale)", Mode::kThroughput,
       [](const CellSummary& c) -> const Spread& { return c.gbytes_per_s; }},
      {kPanelLeft[1], "Ping-pong round trip p50 (lower is better)",
       "round-trip time, µs (log scale)", Mode::kPingPong,
       [](const CellSummary& c) -> const Spread& { return c.p50_us; }},
  };
  for (const Panel& panel : panels) {
    absl::StrAppend(&out, DrawPanel(panel, cells, order));
  }
  // One legend for both panels, in a row under them.
  const double legend_y = kPanelTop + kPanelHeight + 90;
  const size_t per_row = std::min(order.size(), kLegendPerRow);
  const double slot =
      kWidth / static_cast<double>(std::max<size_t>(per_row, 1));
  for (size_t i = 0; i < order.size(); ++i) {
    const Style style = StyleOf(order[i]);
    const double x = slot * static_cast<double>(i % per_row) + slot / 2 - 60;
    const double y =
        legend_y + kLegendRowHeight * static_cast<double>(i / per_row);
    absl::StrAppendFormat(
        &out,
        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
        "y2=\"%.1f\" stroke=\"%s\" stroke-width=\"3\"%s/>\n",
        x, y, x + 30, y, style.color,
        *style.dash ? absl::StrCat(" stroke-dasharray=\"", style.dash, "\"")
                    : "");
    absl::StrAppendFormat(&out,
                          "<text x=\"%.1f\" y=\"%.1f\" class=\"legend\">%s"
                          "</text>\n",
                          x + 38, y + 5, Escape(order[i]));
  }
  absl::StrAppend(&out, "</svg>\n");
  return out;
}

}  // namespace shmport::bench
