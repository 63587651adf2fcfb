#!/usr/bin/env bash
# The Python frame examples work as documented: frame_worker serves one
# publisher, frame_publisher's answers all check out, through a real
# shmportd, with the package as installed (//python:site).
set -euo pipefail

RUNFILES=${TEST_SRCDIR:?}/shmport
export PYTHONPATH=$RUNFILES/python/site
PYTHON=/usr/bin/python3
DIR=$(mktemp -d /tmp/sp-frameXXXXXX)
export SHMPORT_ADDRESS=unix:$DIR/control.sock  # as `make run` would use
mkfifo "$DIR/ready"
cleanup() {
  for pid in ${WORKER_PID:-} ${DAEMON_PID:-}; do
    kill -KILL "$pid" 2>/dev/null || true
  done
  rm -rf "$DIR"
}
trap cleanup EXIT

"$RUNFILES/server/shmportd" --listen="$SHMPORT_ADDRESS" --log_level=warning \
  --ready_fd=3 3>"$DIR/ready" &
DAEMON_PID=$!
read -r -t 30 state <"$DIR/ready"
[[ $state == ready ]]

"$PYTHON" "$RUNFILES/examples/python/frame_worker.py" --ports=1 \
  >"$DIR/worker.out" &
WORKER_PID=$!
OUT=$("$PYTHON" "$RUNFILES/examples/python/frame_publisher.py" \
  --frames=50 --height=480 --width=640 --worker=frame-worker)
echo "$OUT"
grep -Eq "^frame-publisher: 50 frames of 480x640 answered in" <<<"$OUT"
wait "$WORKER_PID"
cat "$DIR/worker.out"
grep -q "^frame-worker: 50 frames from frame-publisher$" "$DIR/worker.out"
