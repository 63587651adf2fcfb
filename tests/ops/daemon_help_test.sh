#!/usr/bin/env bash
# `shmportd --help` lists every flag server/main.cc defines, with its help
# (it used to print "No flags matched. Try --helpfull"). absl exits 1 after
# --help; the output is what counts.
set -uo pipefail

RUNFILES="${TEST_SRCDIR:?run me with bazel test}/shmport"
MAIN_CC="$RUNFILES/server/main.cc"
out=$("$RUNFILES/server/shmportd" --help 2>&1)
failures=0
flags=$(sed -n 's/^ABSL_FLAG([^,]*, *\([a-z_]*\),.*/\1/p' "$MAIN_CC")
[[ $(wc -w <<<"$flags") -ge 7 ]] || { echo "FAIL: found only '$flags' in main.cc"; exit 1; }
for flag in $flags; do
  grep -q -- "--$flag (" <<<"$out" || {
    echo "FAIL: --help does not list --$flag"
    failures=$((failures + 1))
  }
done
grep -q "No flags matched" <<<"$out" && {
  echo "FAIL: --help says 'No flags matched'"
  failures=$((failures + 1))
}
# Library flags (gRPC, absl internals) stay in --helpfull.
grep -q -- "--flagfile" <<<"$out" && {
  echo "FAIL: --help lists absl's own flags"
  failures=$((failures + 1))
}
if ((failures > 0)); then
  echo "$out"
  exit 1
fi
echo "PASS: --help lists" $flags
