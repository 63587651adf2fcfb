// Human-readable numbers for shmportctl's tables: sizes in binary units
// (what memory is measured in), rates in decimal units (what links and
// benchmarks are measured in), counts and ages compactly.
#ifndef SHMPORT_CLI_HUMAN_UNITS_H_
#define SHMPORT_CLI_HUMAN_UNITS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace shmport::cli {

// "0 B", "512 B", "16 KiB" (exact multiples print no decimals),
// "12.4 MiB", "1.0 GiB" ... up to EiB.
std::string FormatBytes(uint64_t bytes);

// Bytes per second in SI units with one decimal: "0 B/s", "950 B/s",
// "12.5 kB/s", "3.1 GB/s". Negative or non-finite input prints "-".
std::string FormatRate(double bytes_per_second);

// Events per second or counts: "0", "950", "12.5k", "1.2M", "3.4G".
// Negative or non-finite input prints "-".
std::string FormatCount(double count);

// An age or uptime, two units at most: "0s", "45s", "3m12s", "2h05m",
// "3d04h". Negative durations print "0s".
std::string FormatAge(absl::Duration age);

// Parses a byte count for flags: "65536", "64k", "64KiB", "4M", "4MiB",
// "1G", "1GiB" (binary multiples, case-insensitive). INVALID_ARGUMENT,
// naming the text, for anything else or a value beyond 2^64 - 1.
absl::StatusOr<uint64_t> ParseBytes(absl::string_view text);

}  // namespace shmport::cli

#endif  // SHMPORT_CLI_HUMAN_UNITS_H_
