#!/usr/bin/env bash
# `shmportctl top` on a real 80x24 terminal (tmux): no line wraps, rows keep
# their order across frames, it waits through a daemon restart, and q quits
# with exit status 0. A real daemon, a router and two workers stream data.
set -uo pipefail

RUNFILES="${TEST_SRCDIR:?run me with bazel test}/shmport"
CTL="$RUNFILES/cli/shmportctl"
DAEMON="$RUNFILES/server/shmportd"
WORK=$(mktemp -d /tmp/sp-top.XXXXXX)
ADDRESS="unix:$WORK/control.sock"
TMUX_SOCKET="$WORK/tmux.sock"  # private: parallel runs share /tmp and may share a pid
export TERM=xterm
pids=()

cleanup() {
  tmux -S "$TMUX_SOCKET" kill-server 2>/dev/null
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*"
  echo "--- last screen:"
  cat "$WORK/screen" 2>/dev/null
  exit 1
}

# Polls `condition` (a shell command) every 100 ms for up to `seconds`.
await() {
  local seconds=$1
  shift
  for ((i = 0; i < seconds * 10; i++)); do
    "$@" && return 0
    sleep 0.1
  done
  return 1
}

start_daemon() {
  "$DAEMON" --listen="$ADDRESS" --log_level=warning &
  daemon_pid=$!
  pids+=("$daemon_pid")
  await 20 "$CTL" --address="$ADDRESS" status >/dev/null 2>&1 ||
    fail "shmportd did not answer"
}

screen() { tmux -S "$TMUX_SOCKET" capture-pane -p -J -t top >"$WORK/screen"; }
# The port ids of the rows on screen, in order.
rows() { screen && awk '$2 ~ /worker-[12]/ { print $1 }' "$WORK/screen"; }
two_measured_rows() {
  screen && [[ $(grep -c 'worker-[12]' "$WORK/screen") -eq 2 ]] &&
    ! grep -q '…  *…' "$WORK/screen"
}

start_daemon
"$RUNFILES/examples/router" --address="$ADDRESS" >"$WORK/router.log" 2>&1 &
pids+=($!)
for w in worker-1 worker-2; do
  "$RUNFILES/examples/worker" --address="$ADDRESS" --name="$w" \
    --payload=65536 >"$WORK/$w.log" 2>&1 &
  pids+=($!)
done

tmux -S "$TMUX_SOCKET" -f /dev/null new-session -d -s top -x 80 -y 24 \
  "'$CTL' --address='$ADDRESS' top --interval=200ms; echo \$? >'$WORK/exit'; sleep 60" ||
  fail "tmux did not start"

await 30 two_measured_rows || fail "top never showed both ports measured"
first=$(rows)
python3 - "$WORK/screen" <<'PY' || fail "a line is wider than 80 columns"
import sys
for line in open(sys.argv[1], encoding="utf-8"):
    if len(line.rstrip("\n")) > 80:
        sys.exit(f"{len(line.rstrip())} columns: {line!r}")
PY
# Several later frames: the rows stay where they were.
stamp=$(head -1 "$WORK/screen")
for frame in 1 2 3; do
  await 10 bash -c "tmux -S '$TMUX_SOCKET' capture-pane -p -J -t top | head -1 | grep -vqF '$stamp'" ||
    fail "top stopped redrawing"
  stamp=$(screen && head -1 "$WORK/screen")
  [[ "$(rows)" == "$first" ]] || fail "rows changed order: '$first' -> '$(rows)'"
done

# The daemon goes away and comes back: top says so, then carries on.
kill -KILL "$daemon_pid"
await 20 bash -c "tmux -S '$TMUX_SOCKET' capture-pane -p -J -t top | grep >/dev/null 'shmportd does not answer'" ||
  fail "top did not report the daemon gone"
[[ -f "$WORK/exit" ]] && fail "top exited when the daemon went away"
start_daemon
await 30 bash -c "tmux -S '$TMUX_SOCKET' capture-pane -p -J -t top | grep >/dev/null '^shmportd .* — '" ||
  fail "top did not resume after the daemon came back"

tmux -S "$TMUX_SOCKET" send-keys -t top q
await 10 test -s "$WORK/exit" || fail "q did not end top"
[[ "$(cat "$WORK/exit")" == "0" ]] || fail "top exited with $(cat "$WORK/exit") after q"
echo "PASS"
