#!/usr/bin/env bash
# Acceptance 6: a Python grpcio client registers and lists through a real
# shmportd using only the .proto files, and generic gRPC discovery (health,
# reflection) works. Runs Debian's /usr/bin/python3 (python3-grpcio).
set -euo pipefail

RUNFILES=${TEST_SRCDIR:?}/shmport
DAEMON=$RUNFILES/server/shmportd
export PYTHONPATH=$RUNFILES/proto/py:$RUNFILES/examples/python/py
PYTHON=/usr/bin/python3

# A private socket directory (short: sockaddr_un holds 107 bytes).
DIR=$(mktemp -d /tmp/shmport-pyXXXXXX)
ADDRESS=unix:$DIR/control.sock
READY=$DIR/ready
mkfifo "$READY"
cleanup() {
  if [[ -n ${DAEMON_PID:-} ]] && kill -0 "$DAEMON_PID" 2>/dev/null; then
    kill -KILL "$DAEMON_PID" 2>/dev/null || true
  fi
  rm -rf "$DIR"
}
trap cleanup EXIT

# The daemon writes "ready" on fd 3 once it serves.
"$DAEMON" --listen="$ADDRESS" --log_level=warning --ready_fd=3 3>"$READY" &
DAEMON_PID=$!
read -r -t 30 state <"$READY"
[[ $state == ready ]] || { echo "shmportd did not become ready"; exit 1; }

OUT=$("$PYTHON" "$RUNFILES/examples/python/shmport_client.py" \
  --address="$ADDRESS" --name=py-worker)
echo "$OUT"
grep -q "^registered py-worker as process 1 " <<<"$OUT"
grep -Eq "^1 +py-worker +[0-9]+ +ATTACHED +0$" <<<"$OUT"
grep -q "^unregistered$" <<<"$OUT"

"$PYTHON" "$RUNFILES/examples/python/discovery_check.py" "$ADDRESS"

# A refused Register reports the daemon's code and message.
if "$PYTHON" "$RUNFILES/examples/python/shmport_client.py" \
  --address="$ADDRESS" --name="bad name" 2>"$DIR/err"; then
  echo "a bad name was accepted"
  exit 1
fi
grep -q "INVALID_ARGUMENT" "$DIR/err"

kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
echo "shmportd exited 0"
