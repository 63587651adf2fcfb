#include "cli/human_units.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"

namespace shmport::cli {
namespace {

// Scales `value` by `base` until it is below `base`, then prints it with
// one decimal and the unit reached; `exact_integers` drops ".0" when the
// scaled value is a whole number.
std::string Scaled(double value, double base, const char* const* units,
                   int unit_count, absl::string_view suffix,
                   bool exact_integers) {
  int unit = 0;
  while (value >= base && unit + 1 < unit_count) {
    value /= base;
    ++unit;
  }
  if (unit == 0) {
    return absl::StrCat(static_cast<uint64_t>(std::llround(value)), units[unit],
                        suffix);
  }
  // Round first so that 1023.96 KiB prints "1.0 MiB", not "1024.0 KiB".
  if (std::round(value * 10) / 10 >= base && unit + 1 < unit_count) {
    value /= base;
    ++unit;
  }
  if (exact_integers && value == std::floor(value)) {
    return absl::StrFormat("%.0f%s%s", value, units[unit], suffix);
  }
  return absl::StrFormat("%.1f%s%s", value, units[unit], suffix);
}

}  // namespace

std::string FormatBytes(uint64_t bytes) {
  static const char* const kUnits[] = {" B",   " KiB", " MiB", " GiB",
                                       " TiB", " PiB", " EiB"};
  return Scaled(static_cast<double>(bytes), 1024.0, kUnits, 7, "",
                /*exact_integers=*/true);
}

std::string FormatRate(double bytes_per_second) {
  if (!std::isfinite(bytes_per_second) || bytes_per_second < 0) return "-";
  static const char* const kUnits[] = {" B", " kB", " MB", " GB", " TB", " PB"};
  return Scaled(bytes_per_second, 1000.0, kUnits, 6, "/s",
                /*exact_integers=*/false);
}

std::string FormatCount(double count) {
  if (!std::isfinite(count) || count < 0) return "-";
  static const char* const kUnits[] = {"", "k", "M", "G", "T", "P"};
  return Scaled(count, 1000.0, kUnits, 6, "", /*exact_integers=*/false);
}

std::string FormatAge(absl::Duration age) {
  int64_t s = absl::ToInt64Seconds(age);
  if (s < 0) s = 0;
  if (s < 60) return absl::StrCat(s, "s");
  if (s < 3600) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  if (s < 86400) return absl::StrFormat("%dh%02dm", s / 3600, s % 3600 / 60);
  return absl::StrFormat("%dd%02dh", s / 86400, s % 86400 / 3600);
}

absl::StatusOr<uint64_t> ParseBytes(absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(text);
  absl::string_view digits = lower;
  int shift = 0;
  struct Suffix {
    absl::string_view text;
    int shift;
  };
  for (const Suffix& s :
       {Suffix{"kib", 10}, Suffix{"mib", 20}, Suffix{"gib", 30},
        Suffix{"k", 10}, Suffix{"m", 20}, Suffix{"g", 30}, Suffix{"b", 0}}) {
    if (absl::ConsumeSuffix(&digits, s.text)) {
      shift = s.shift;
      break;
    }
  }
  uint64_t value = 0;
  const bool all_digits =
      !digits.empty() &&
      std::all_of(digits.begin(), digits.end(), absl::ascii_isdigit);
  if (!all_digits || !absl::SimpleAtoi(digits, &value) ||
      (shift > 0 && value > (UINT64_MAX >> shift))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", text, "\" is not a byte count (examples: 65536, 64KiB, 4MiB)"));
  }
  return value << shift;
}

}  // namespace shmport::cli
