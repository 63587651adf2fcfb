#include "cli/command_line.h"

#include <algorithm>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "cli/human_units.h"

namespace shmport::cli {
namespace {

std::string Canonical(absl::string_view name) {
  return absl::StrReplaceAll(name, {{"_", "-"}});
}

const FlagSpec* FindSpec(absl::Span<const FlagSpec> specs,
                         absl::string_view name) {
  const std::string canonical = Canonical(name);
  for (const FlagSpec& spec : specs) {
    if (Canonical(spec.name) == canonical) return &spec;
  }
  return nullptr;
}

absl::Status CheckValue(const FlagSpec& spec, absl::string_view value) {
  switch (spec.kind) {
    case FlagSpec::Kind::kBool:
      if (value == "true" || value == "false") return absl::OkStatus();
      return absl::InvalidArgumentError(
          absl::StrCat("--", spec.name, "=", value, ": use true or false"));
    case FlagSpec::Kind::kString:
      return absl::OkStatus();
    case FlagSpec::Kind::kCount: {
      uint64_t n;
      if (!value.empty() && absl::ascii_isdigit(value[0]) &&
          absl::SimpleAtoi(value, &n)) {
        return absl::OkStatus();
      }
      return absl::InvalidArgumentError(absl::StrCat(
          "--", spec.name, "=", value, ": not a non-negative integer"));
    }
    case FlagSpec::Kind::kBytes: {
      absl::StatusOr<uint64_t> bytes = ParseBytes(value);
      if (bytes.ok()) return absl::OkStatus();
      return absl::InvalidArgumentError(
          absl::StrCat("--", spec.name, ": ", bytes.status().message()));
    }
    case FlagSpec::Kind::kDuration: {
      absl::Duration d;
      if (absl::ParseDuration(value, &d) && d > absl::ZeroDuration() &&
          d != absl::InfiniteDuration()) {
        return absl::OkStatus();
      }
      return absl::InvalidArgumentError(
          absl::StrCat("--", spec.name, "=", value,
                       ": not a positive duration (examples: 500ms, 2s, 1m)"));
    }
  }
  return absl::InternalError("unknown flag kind");
}

}  // namespace

absl::StatusOr<ParsedArgs> ParseCommandLine(absl::Span<const std::string> args,
                                            absl::Span<const FlagSpec> specs) {
  ParsedArgs parsed;
  for (size_t i = 0; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (arg == "--") {
      parsed.positional_.insert(parsed.positional_.end(), args.begin() + i + 1,
                                args.end());
      break;
    }
    if (arg == "-h" && FindSpec(specs, "help") != nullptr) arg = "--help";
    if (!absl::StartsWith(arg, "-") || arg == "-") {
      parsed.positional_.emplace_back(arg);
      continue;
    }
    if (!absl::StartsWith(arg, "--")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown option ", arg, " (options are spelled --name)"));
    }
    arg.remove_prefix(2);
    absl::string_view name = arg;
    std::optional<std::string> value;
    if (const size_t eq = arg.find('='); eq != absl::string_view::npos) {
      name = arg.substr(0, eq);
      value = std::string(arg.substr(eq + 1));
    }
    const FlagSpec* spec = FindSpec(specs, name);
    if (spec == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
    if (!value.has_value()) {
      if (spec->kind == FlagSpec::Kind::kBool) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("--", spec->name, " needs a value (--", spec->name,
                         "=", spec->value_name, ")"));
      }
    }
    if (absl::Status s = CheckValue(*spec, *value); !s.ok()) return s;
    parsed.values_[Canonical(spec->name)] = *std::move(value);
  }
  return parsed;
}

bool ParsedArgs::Has(absl::string_view name) const {
  return values_.find(Canonical(name)) != values_.end();
}

bool ParsedArgs::GetBool(absl::string_view name) const {
  auto it = values_.find(Canonical(name));
  return it != values_.end() && it->second == "true";
}

std::string ParsedArgs::GetString(absl::string_view name,
                                  absl::string_view fallback) const {
  auto it = values_.find(Canonical(name));
  return it == values_.end() ? std::string(fallback) : it->second;
}

uint64_t ParsedArgs::GetCount(absl::string_view name, uint64_t fallback) const {
  auto it = values_.find(Canonical(name));
  uint64_t n = fallback;
  if (it != values_.end() && !absl::SimpleAtoi(it->second, &n)) n = fallback;
  return n;
}

uint64_t ParsedArgs::GetBytes(absl::string_view name, uint64_t fallback) const {
  auto it = values_.find(Canonical(name));
  if (it == values_.end()) return fallback;
  return ParseBytes(it->second).value_or(fallback);
}

absl::Duration ParsedArgs::GetDuration(absl::string_view name,
                                       absl::Duration fallback) const {
  auto it = values_.find(Canonical(name));
  absl::Duration d = fallback;
  if (it != values_.end() && !absl::ParseDuration(it->second, &d)) {
    d = fallback;
  }
  return d;
}

std::string FormatFlagHelp(absl::Span<const FlagSpec> specs) {
  std::vector<std::string> left;
  size_t width = 0;
  for (const FlagSpec& spec : specs) {
    std::string l = absl::StrCat("  --", spec.name);
    if (!spec.value_name.empty()) absl::StrAppend(&l, "=", spec.value_name);
    width = std::max(width, l.size());
    left.push_back(std::move(l));
  }
  std::string out;
  for (size_t i = 0; i < specs.size(); ++i) {
    out += left[i];
    out.append(width - left[i].size() + 3, ' ');
    absl::StrAppend(&out, specs[i].help, "\n");
  }
  return out;
}

}  // namespace shmport::cli
