// Flags and arguments of one shmportctl invocation. A small parser of its
// own rather than absl flags: subcommands need their own flag sets, unknown
// flags must give exit code 2 (absl exits 1), and every subcommand needs
// its own --help.
#ifndef SHMPORT_CLI_COMMAND_LINE_H_
#define SHMPORT_CLI_COMMAND_LINE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace shmport::cli {

struct FlagSpec {
  enum class Kind {
    kBool,      // --json, --json=true|false
    kString,    // --address=ADDR or --address ADDR
    kCount,     // a non-negative integer
    kBytes,     // a byte count: 65536, 64KiB, 4MiB (see ParseBytes)
    kDuration,  // a positive duration: 500ms, 2s, 1m
  };
  std::string name;  // without dashes; '-' and '_' are interchangeable
  Kind kind = Kind::kBool;
  std::string value_name;  // for help: "ADDR", "N"; empty for bools
  std::string help;
};

// What ParseCommandLine found. Values were validated against their kind
// while parsing, so the getters cannot fail.
class ParsedArgs {
 public:
  // Arguments that are not flags, in order ("--" ends the flags).
  const std::vector<std::string>& positional() const { return positional_; }
  bool Has(absl::string_view name) const;
  bool GetBool(absl::string_view name) const;  // false when absent
  std::string GetString(absl::string_view name,
                        absl::string_view fallback = "") const;
  uint64_t GetCount(absl::string_view name, uint64_t fallback) const;
  uint64_t GetBytes(absl::string_view name, uint64_t fallback) const;
  absl::Duration GetDuration(absl::string_view name,
                             absl::Duration fallback) const;

 private:
  friend absl::StatusOr<ParsedArgs> ParseCommandLine(
      absl::Span<const std::string> args, absl::Span<const FlagSpec> specs);
  std::vector<std::string> positional_;
  std::map<std::string, std::string, std::less<>> values_;  // canonical names
};

// Parses `args` (without the program name) against `specs`; "-h" is
// "--help" when a "help" spec exists. Flags and positional arguments may
// be mixed. Errors (INVALID_ARGUMENT) name the flag and what was wrong:
// unknown flag, missing value, a value of the wrong kind, a value given to
// a bool.
absl::StatusOr<ParsedArgs> ParseCommandLine(absl::Span<const std::string> args,
                                            absl::Span<const FlagSpec> specs);

// Help lines for `specs`, one flag per line, aligned:
//   "  --address=ADDR   control address (default: ...)\n"
std::string FormatFlagHelp(absl::Span<const FlagSpec> specs);

}  // namespace shmport::cli

#endif  // SHMPORT_CLI_COMMAND_LINE_H_
