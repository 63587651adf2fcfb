#!/usr/bin/env bash
# `make bench`: builds //bench:transport_compare optimised, runs the full
# side-by-side comparison once, and writes
#   bench/results/latest.json   the JSON array, one object per cell
#   bench/results/latest.svg    throughput and latency vs payload size
#   bench/results/latest.md     the tables plus the machine they ran on
# The previous results are replaced only when the run succeeds (a checksum
# mismatch or any failed cell makes the binary exit non-zero).
#
#   tools/run_bench.sh [transport_compare flags...]   e.g. --reps=5
#   BAZEL=bazel                                       the bazel binary
set -euo pipefail
cd "$(dirname "$0")/.."

BAZEL=${BAZEL:-bazel}
OUT=bench/results
mkdir -p "$OUT"

"$BAZEL" build --config=opt //bench:transport_compare
BIN="$("$BAZEL" info --config=opt bazel-bin 2>/dev/null)/bench/transport_compare"
# Run a private copy: a rebuild by someone else mid-run cannot swap it.
WORK=$(mktemp -d /tmp/shmport-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cp "$BIN" "$WORK/transport_compare"

cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
cpu=${cpu:-$(sed -n 's/^model name\t*: //p' /proc/cpuinfo | head -1)}
cores=$(nproc)
kernel=$(uname -sr)
when=$(date -u '+%Y-%m-%d %H:%M UTC')
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n "$(git status --porcelain -- client common bench ':!bench/results' 2>/dev/null)" ]]; then
  commit="$commit+local changes"
fi
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
subtitle="$cpu, $cores CPUs, $kernel, $when, commit $commit"

echo "transport_compare: $subtitle" >&2
start=$SECONDS
"$WORK/transport_compare" \
  --json_out="$WORK/latest.json" \
  --table_out="$WORK/tables.md" \
  --plot="$WORK/latest.svg" \
  --plot_subtitle="$subtitle" \
  "$@"
elapsed=$((SECONDS - start))
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

if command -v xmllint >/dev/null; then
  xmllint --noout "$WORK/latest.svg"
fi
if command -v rsvg-convert >/dev/null; then
  rsvg-convert -o "$WORK/check.png" "$WORK/latest.svg"
fi

{
  echo "# shmport transport comparison"
  echo
  echo "Reproduce with \`make bench\` (tools/run_bench.sh); the same numbers as"
  echo "JSON in [latest.json](latest.json), plotted in [latest.svg](latest.svg)."
  echo
  echo "| machine | |"
  echo "| :-- | :-- |"
  echo "| CPU | $cpu |"
  echo "| nproc | $cores |"
  echo "| kernel | $kernel |"
  echo "| date | $when |"
  echo "| commit | $commit |"
  echo "| flags | ${*:-(defaults)} |"
  echo "| load average before / after | $load_before / $load_after |"
  echo "| run time | ${elapsed} s |"
  echo
  echo "The machine may be shared: the load average says how busy it was."
  echo "shmport-spin busy-polls on both ends and needs two otherwise idle"
  echo "CPUs; with a load average near or above nproc its row measures the"
  echo "scheduler (time slices of other work), not the transport."
  echo
  cat "$WORK/tables.md"
} >"$WORK/latest.md"

mv "$WORK/latest.json" "$OUT/latest.json"
mv "$WORK/latest.svg" "$OUT/latest.svg"
mv "$WORK/latest.md" "$OUT/latest.md"
echo "wrote $OUT/latest.json, $OUT/latest.svg and $OUT/latest.md (${elapsed} s)" >&2
