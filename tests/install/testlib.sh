# Shared by the tests/install shell tests (sourced): where the built files
# are, a private work directory, a real shmportd, and the README's blocks.
# Each test sets WORK_PREFIX before sourcing.

RUNFILES="${TEST_SRCDIR:?run me with bazel test}/shmport"
DIST="$RUNFILES/lib/shmport-dist.tar"
INSTALL_SH="$RUNFILES/tools/install.sh"
WORK=$(mktemp -d "/tmp/${WORK_PREFIX:-sp-inst}.XXXXXX")
daemon_pid=""
failures=0

cleanup() {
  [[ -n $daemon_pid ]] && kill -TERM "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

finish() {
  if ((failures > 0)); then
    echo "$failures failures"
    exit 1
  fi
  echo "PASS: $*"
  exit 0
}

# Starts shmportd on a private socket under $WORK and exports
# SHMPORT_ADDRESS; waits for its --ready_fd line (bounded).
start_daemon() {
  mkdir -m 0700 "$WORK/daemon"
  export SHMPORT_ADDRESS="unix:$WORK/daemon/control.sock"
  unset XDG_RUNTIME_DIR
  mkfifo "$WORK/ready"
  "$RUNFILES/server/shmportd" --ready_fd=3 3>"$WORK/ready" >"$WORK/shmportd.log" 2>&1 &
  daemon_pid=$!
  local ready=""
  read -r -t 30 ready <"$WORK/ready"
  if [[ $ready != ready ]]; then
    cat "$WORK/shmportd.log"
    echo "FAIL: shmportd did not start"
    exit 1
  fi
}

# Runs the exchange (exchange.h) between the peer, $PEER (default
# //tests/install:echo_peer), and `consumer...`: both must exit 0 and say
# so. `what` names it in failures.
run_exchange() {
  local what=$1
  shift
  "${PEER:-$RUNFILES/tests/install/echo_peer}" >"$WORK/peer.out" 2>&1 &
  local peer=$!
  timeout 120 "$@" >"$WORK/consumer.out" 2>&1
  local rc=$?
  wait "$peer"
  local peer_rc=$?
  if ((rc != 0 || peer_rc != 0)); then
    fail "$what: consumer exit $rc, peer exit $peer_rc"
    cat "$WORK/consumer.out" "$WORK/peer.out"
    return
  fi
  grep -q 'messages, [0-9]* bytes each way, every byte checked' "$WORK/consumer.out" ||
    fail "$what: no summary from the consumer"
  grep -q 'requests checked and answered' "$WORK/peer.out" ||
    fail "$what: no summary from the peer"
  cat "$WORK/consumer.out"
}

# The fenced block that follows <!-- use:NAME --> in the README.
readme_block() {
  awk -v marker="<!-- use:$1 -->" '
    $0 == marker { on = 1; next }
    on && /^```/ { if (fence) exit; fence = 1; next }
    on && fence  { print }' "$RUNFILES/README.md"
}
