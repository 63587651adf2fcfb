#!/usr/bin/env bash
# Runs the README's 5-minute tour (issue 5, acceptance 3): the shell lines
# between <!-- tour:begin --> and <!-- tour:end -->, in order, as written,
# except that `bazel build` is skipped (Bazel built the binaries as this
# test's data) and `bazel-bin/` means this test's runfiles. The daemon gets
# a private socket through $SHMPORT_ADDRESS, never the developer's default
# one; no network is used.
set -uo pipefail

RUNFILES="${TEST_SRCDIR:?run me with bazel test}/shmport"
README="$RUNFILES/README.md"
if [[ ! -f "$README" ]]; then
  # README.md is not a data dependency until the root BUILD.bazel exports
  # it: read it from the source tree this test comes from (its runfile is
  # a symlink there). The test is tagged "external", so no stale result.
  README="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../README.md"
fi
[[ -f "$README" ]] || { echo "FAIL: cannot find README.md"; exit 1; }

WORK=$(mktemp -d /tmp/shmport-tour.XXXXXX)
cleanup() {
  # Whatever the tour left running (after a failure) goes with its group.
  [[ -n "${tour_pid:-}" ]] && kill -KILL -- "-$tour_pid" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

# The tour: the ```sh block between the markers.
awk '/<!-- tour:begin -->/ { on = 1; next }
     /<!-- tour:end -->/   { on = 0 }
     on && /^```/          { fence = !fence; next }
     on && fence           { print }' "$README" >"$WORK/tour.txt"
lines=$(grep -c . "$WORK/tour.txt")
if ((lines < 5)); then
  echo "FAIL: the README's tour has $lines lines; markers or fence missing?"
  exit 1
fi
grep -q '^bazel build ' "$WORK/tour.txt" ||
  { echo "FAIL: the tour does not start by building"; exit 1; }

{
  echo 'set -e'
  sed -e 's|^bazel build .*|: built by bazel test|' \
    -e "s|bazel-bin/|$RUNFILES/|g" "$WORK/tour.txt"
} >"$WORK/tour.sh"

export SHMPORT_ADDRESS="unix:$WORK/daemon/control.sock"
unset XDG_RUNTIME_DIR
# Its own process group, so that cleanup can end whatever it started.
setsid bash "$WORK/tour.sh" >"$WORK/out" 2>&1 &
tour_pid=$!
# Bounded: a tour that hangs fails here instead of at Bazel's timeout.
for ((i = 0; i < 1200; i++)); do
  kill -0 "$tour_pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$tour_pid" 2>/dev/null; then
  echo "FAIL: the tour did not finish within 120 s"
  cat "$WORK/out"
  exit 1
fi
wait "$tour_pid"
rc=$?
tour_pid=""

failures=0
expect() {
  grep -qF -- "$1" "$WORK/out" || {
    echo "FAIL: the tour's output lacks: $1"
    failures=$((failures + 1))
  }
}
[[ $rc -eq 0 ]] || { echo "FAIL: the tour exited $rc"; failures=$((failures + 1)); }
expect 'hello-receiver: registered, waiting for a port'
expect 'hello-receiver: 20 bytes from hello-sender (inline): "hello, shared memory"'
expect 'hello-receiver: 1048576 bytes from hello-sender (shared memory)'
expect 'hello-sender: hello-receiver replied "got 20"'
expect 'hello-sender: hello-receiver replied "got 1048576"'
expect 'hello-receiver: port closed'
expect 'health     serving'
expect 'registrations  2 total'
expect 'ports opened   1 total'
# `kill %1` stopped the daemon cleanly: it removed its socket.
[[ -e "$WORK/daemon/control.sock" ]] && {
  echo "FAIL: the daemon's socket is still there after the tour"
  failures=$((failures + 1))
}
if ((failures > 0)); then
  echo "--- the tour:"
  cat "$WORK/tour.sh"
  echo "--- its output:"
  cat "$WORK/out"
  exit 1
fi
echo "PASS: the README's tour ($lines commands) works as written"
