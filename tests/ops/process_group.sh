# Sourced by the tests/ops shell tests: a scratch directory, the processes
# a test started (stopped in reverse order at exit), failing with the logs,
# and waiting on a condition under a deadline (never a bare sleep).
#
#   source "$RUNFILES/tests/ops/process_group.sh"
#   some_daemon >"$WORK/daemon.log" 2>&1 &
#   pids+=($!)
#   wait_for 10 "the socket" test -S "$WORK/control.sock"

WORK=$(mktemp -d /tmp/sp-XXXXXX)
pids=()
# SIGTERM first (clean stops), then SIGKILL whatever is left after 5 s.
cleanup() {
  local i pid deadline=$((SECONDS + 5))
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null; done
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

# Prints the message and the tail of every log in $WORK, and exits 1.
fail() {
  echo "FAIL: $*"
  for log in "$WORK"/*.log; do
    echo "--- $log"
    tail -20 "$log"
  done
  exit 1
}

# Polls a command every 0.1 s until it succeeds, for at most `seconds`.
wait_for() {
  local seconds=$1 what=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    ((SECONDS < deadline)) || fail "timed out after ${seconds}s waiting for $what"
    sleep 0.1
  done
}
