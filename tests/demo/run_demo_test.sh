#!/usr/bin/env bash
# Drives `make run`'s demo (tools/run_demo.sh) headless, against the built
# binaries and a daemon on a private /tmp socket (never the developer's
# default one): once stopped by DURATION, once by SIGINT as Ctrl-C would,
# and once with DEMO=0. Each run must end with exit code 0 and a summary
# showing real traffic, no chunk still in use and no leaked fd.
set -uo pipefail

RUNFILES="${TEST_SRCDIR:?run me with bazel test}/shmport"
DEMO_SCRIPT="$RUNFILES/tools/run_demo.sh"
if [[ ! -x "$DEMO_SCRIPT" ]]; then
  # tools/ is not a Bazel package, so the script cannot be a data
  # dependency yet: find it in the source tree this test comes from (its
  # runfile is a symlink there). BUILD.bazel tags the test "external" so
  # that a changed script is never hidden by a cached result.
  DEMO_SCRIPT="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../tools/run_demo.sh"
fi
[[ -x "$DEMO_SCRIPT" ]] || { echo "FAIL: cannot find tools/run_demo.sh"; exit 1; }
WORK=$(mktemp -d /tmp/shmport-demo-test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export SHMPORT_BIN_DIR="$RUNFILES"
export SHMPORT_ADDRESS="unix:$WORK/daemon/control.sock"
unset XDG_RUNTIME_DIR

failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# The summary of one run, in `$1`, must show a clean stop with traffic.
check_summary() {
  local out=$1 what=$2
  grep -q '^shmport demo summary$' "$out" || fail "$what: no summary"
  local throughput
  throughput=$(sed -n 's/^  throughput *\([0-9.]*\) [kMG]B\/s.*/\1/p' "$out")
  awk -v t="${throughput:-0}" 'BEGIN { exit !(t > 0) }' ||
    fail "$what: throughput '${throughput}' is not positive"
  local sent received
  sent=$(sed -n 's/^  messages *\([0-9]*\) sent.*/\1/p' "$out")
  received=$(sed -n 's/^  messages *[0-9]* sent, \([0-9]*\) received.*/\1/p' "$out")
  [[ -n "$sent" && "$sent" -gt 0 ]] || fail "$what: no messages sent"
  [[ "$sent" == "$received" ]] || fail "$what: sent $sent, received $received"
  grep -q '^  chunks still in use:   0$' "$out" || fail "$what: chunks still in use"
  grep -q '^  fds leaked:            0$' "$out" || fail "$what: fds leaked"
  grep -q '^  segments still mapped: 0$' "$out" || fail "$what: segments still mapped"
  grep -q '^  clean stop$' "$out" || fail "$what: not a clean stop"
}

# --- 1. DURATION=N stops it headless. ---
out="$WORK/duration.out"
DURATION=3 "$DEMO_SCRIPT" >"$out" 2>&1
rc=$?
[[ $rc -eq 0 ]] || fail "DURATION=3: exit $rc"
grep -q "shmportd is serving at $SHMPORT_ADDRESS" "$out" ||
  fail "DURATION=3: the daemon did not use SHMPORT_ADDRESS"
grep -q 'total [0-9.]* [kMG]B/s' "$out" || fail "DURATION=3: no progress line"
check_summary "$out" "DURATION=3"
[[ $failures -eq 0 ]] || cat "$out"

# --- 2. SIGINT (Ctrl-C) stops it cleanly. ---
# Job control on, so that the background script does not start with
# SIGINT ignored (a non-interactive shell ignores it for & commands).
out="$WORK/sigint.out"
set -m
"$DEMO_SCRIPT" >"$out" 2>&1 &
demo=$!
set +m
# Wait (bounded) until data flows: a progress line with a non-zero total.
deadline=$((SECONDS + 120))
until grep -q 'total [0-9.]*[1-9][0-9.]* [kMG]B/s' "$out"; do
  if ((SECONDS > deadline)) || ! kill -0 "$demo" 2>/dev/null; then
    fail "SIGINT: no traffic before the deadline"
    break
  fi
  sleep 0.1
done
kill -INT "$demo"
wait "$demo"
rc=$?
[[ $rc -eq 0 ]] || fail "SIGINT: exit $rc"
check_summary "$out" "SIGINT"
[[ $failures -eq 0 ]] || cat "$out"

# --- 3. DEMO=0: the daemon alone. ---
out="$WORK/daemon-only.out"
DEMO=0 DURATION=1 "$DEMO_SCRIPT" >"$out" 2>&1
rc=$?
[[ $rc -eq 0 ]] || fail "DEMO=0: exit $rc"
grep -q '^shmportd stopped (exit 0)$' "$out" || fail "DEMO=0: no clean stop"
grep -q 'router' "$out" && fail "DEMO=0: the router ran"
[[ -e "$WORK/daemon/control.sock" ]] && fail "DEMO=0: the socket was left behind"
[[ $failures -eq 0 ]] || cat "$out"

if ((failures > 0)); then
  echo "$failures failures"
  exit 1
fi
echo "PASS: DURATION, SIGINT and DEMO=0 runs stopped cleanly"
