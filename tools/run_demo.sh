#!/usr/bin/env bash
# `make run`: builds shmport, starts shmportd on its default address and,
# unless DEMO=0, a router and two workers that stream data to it through
# shared memory, with a live throughput line. Ctrl-C (or DURATION=N
# seconds) stops everything in order — workers, router, daemon — and prints
# a summary: messages, bytes, throughput, chunks still in use, fds leaked.
#
#   DEMO=0              the daemon only, until Ctrl-C
#   DURATION=N          stop after N seconds (headless runs, tests)
#   WORKERS=2           how many workers
#   PAYLOAD=262144      bytes per message
#   SHMPORT_ADDRESS     where the daemon listens (default: the per-user socket
#                       under $XDG_RUNTIME_DIR/shmport or /tmp/shmport-$UID)
#   SHMPORT_BIN_DIR     use the binaries under this directory (server/shmportd,
#                       cli/shmportctl, examples/{router,worker}) instead of
#                       building them
#
# Exit code: 0 when everything stopped cleanly and nothing leaked.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

DEMO=${DEMO:-1}
DURATION=${DURATION:-0}
WORKERS=${WORKERS:-2}
PAYLOAD=${PAYLOAD:-262144}
BAZEL=${BAZEL:-bazel}
user_address=${SHMPORT_ADDRESS:-}

say() { printf '%s\n' "$*"; }
fail() {
  printf 'run_demo: %s\n' "$*" >&2
  exit 1
}

for value in DEMO DURATION WORKERS PAYLOAD; do
  [[ ${!value} =~ ^[0-9]+$ ]] || fail "$value=${!value}: use a non-negative integer"
done
((WORKERS >= 1)) || fail "WORKERS=$WORKERS: use at least 1"

# --- Binaries ----------------------------------------------------------------
if [[ -n "${SHMPORT_BIN_DIR:-}" ]]; then
  BIN=$SHMPORT_BIN_DIR
else
  say "building shmportd, shmportctl and the demo (bazel build)..."
  $BAZEL build //server:shmportd //cli:shmportctl //examples:router \
    //examples:worker || fail "the build failed"
  BIN=$($BAZEL info bazel-bin 2>/dev/null) || fail "bazel info bazel-bin failed"
fi
for binary in server/shmportd cli/shmportctl examples/router examples/worker; do
  [[ -x "$BIN/$binary" ]] || fail "no $BIN/$binary (build it, or fix SHMPORT_BIN_DIR)"
done
CTL="$BIN/cli/shmportctl"

# --- Processes and cleanup -----------------------------------------------------
WORK=$(mktemp -d /tmp/shmport-demo.XXXXXX) || fail "mktemp failed"
daemon=""
router=""
workers=()
keep_logs=0

# Sends SIGTERM to `pid` and waits up to `seconds` for it to exit (SIGKILL
# after that). Returns its exit status.
stop_process() {
  local pid=$1 name=$2 seconds=$3 waited=0
  [[ -n "$pid" ]] || return 0
  kill -TERM "$pid" 2>/dev/null
  while kill -0 "$pid" 2>/dev/null && ((waited < seconds * 10)); do
    sleep 0.1
    ((waited++))
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "run_demo: $name did not stop within ${seconds}s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null
}

# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
  # Whatever still runs (after an error) goes, in order.
  for w in "${workers[@]}"; do kill -KILL "$w" 2>/dev/null; done
  [[ -n "$router" ]] && kill -KILL "$router" 2>/dev/null
  [[ -n "$daemon" ]] && kill -TERM "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
  if ((keep_logs)); then
    say "run_demo: logs kept in $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

stop_requested=0
trap 'stop_requested=1' INT TERM

# Each child runs in a session of its own (setsid), so that Ctrl-C reaches
# only this script, which then stops them in order: workers first (they
# wait until the router has freed their memory), then the router, then the
# daemon. In the terminal's process group they would all get SIGINT at once.

# --- The daemon ------------------------------------------------------------------
# shmportd writes "ready" to --ready_fd once it serves; a FIFO carries it
# here (EOF instead if it dies first, e.g. because the address is taken).
mkfifo "$WORK/ready" || fail "mkfifo failed"
setsid "$BIN/server/shmportd" --ready_fd=3 3>"$WORK/ready" >"$WORK/shmportd.log" 2>&1 &
daemon=$!
ready=""
read -r -t 60 ready <"$WORK/ready"
if [[ "$ready" != "ready" ]]; then
  keep_logs=1
  sed 's/^/  shmportd: /' "$WORK/shmportd.log" >&2
  daemon=""
  fail "shmportd did not start (another shmportd on this address? stop it, or set SHMPORT_ADDRESS=unix:/tmp/somewhere/control.sock)"
fi
ADDRESS=$("$CTL" status --json | sed -n 's/.*"listen_address":"\([^"]*\)".*/\1/p')
[[ -n "$ADDRESS" ]] || fail "shmportd started but does not answer shmportctl status"
export SHMPORT_ADDRESS=$ADDRESS

# Name the CLI the short way when the bazel-bin symlink leads to it.
ctl_hint="$CTL"
if [[ -e bazel-bin && "$(readlink -f bazel-bin)" == "$(readlink -f "$BIN")" ]]; then
  ctl_hint="bazel-bin/cli/shmportctl"
fi
[[ "$ctl_hint" == "$PWD/"* ]] && ctl_hint=${ctl_hint#"$PWD/"}
# Another terminal finds the daemon by itself only at the default address.
[[ -n "$user_address" ]] && ctl_hint="SHMPORT_ADDRESS=$ADDRESS $ctl_hint"
say "shmportd is serving at $ADDRESS (log: $WORK/shmportd.log)"

if ((DEMO == 0)); then
  say "  try, in another terminal:"
  say "    $ctl_hint status"
  say "    $ctl_hint watch"
  say "Ctrl-C to stop."
  start=$SECONDS
  while ((!stop_requested)) && kill -0 "$daemon" 2>/dev/null; do
    ((DURATION > 0 && SECONDS - start >= DURATION)) && break
    sleep 1 &
    wait $!
  done
  stop_process "$daemon" shmportd 5
  rc=$?
  daemon=""
  say "shmportd stopped (exit $rc)"
  exit "$rc"
fi

# --- The demo: a router, then the workers -------------------------------------
setsid "$BIN/examples/router" --summary_file="$WORK/router.summary" &
router=$!
for ((i = 1; i <= WORKERS; i++)); do
  setsid "$BIN/examples/worker" --name="worker-$i" --payload="$PAYLOAD" \
    --summary_file="$WORK/worker-$i.summary" >"$WORK/worker-$i.log" 2>&1 &
  workers+=($!)
done
say "router and $WORKERS workers streaming $PAYLOAD-byte messages through shared memory."
say "  see it from another terminal:"
say "    $ctl_hint ps"
say "    $ctl_hint ports"
say "    $ctl_hint top"
if ((DURATION > 0)); then
  say "stopping after ${DURATION}s (or Ctrl-C)."
else
  say "Ctrl-C to stop."
fi

start=$SECONDS
all_running() {
  kill -0 "$daemon" 2>/dev/null && kill -0 "$router" 2>/dev/null || return 1
  for w in "${workers[@]}"; do kill -0 "$w" 2>/dev/null || return 1; done
}
while ((!stop_requested)) && all_running; do
  ((DURATION > 0 && SECONDS - start >= DURATION)) && break
  sleep 0.2 &
  wait $!
done
if ! all_running; then
  keep_logs=1
  say "run_demo: a demo process exited early; stopping the rest" >&2
  for ((i = 1; i <= WORKERS; i++)); do
    sed "s/^/  worker-$i: /" "$WORK/worker-$i.log" >&2
  done
  tail -n 20 "$WORK/shmportd.log" | sed 's/^/  shmportd: /' >&2
fi

# --- Stop, in order: workers (they drain and close), router, daemon ------------
say ""
say "stopping: workers, router, daemon"
status=0
for ((i = 0; i < WORKERS; i++)); do
  stop_process "${workers[i]}" "worker-$((i + 1))" 10 || {
    status=1
    sed "s/^/  worker-$((i + 1)): /" "$WORK/worker-$((i + 1)).log" >&2
  }
done
workers=()
stop_process "$router" router 10 || status=1
router=""
stop_process "$daemon" shmportd 5 || status=1
daemon=""

# --- Summary -----------------------------------------------------------------------
cat "$WORK"/router.summary "$WORK"/worker-*.summary >"$WORK/all.summary" 2>/dev/null
awk -v status="$status" -v workers="$WORKERS" '
  function field(name,   i, kv) {
    for (i = 2; i <= NF; i++) {
      split($i, kv, "=")
      if (kv[1] == name) return kv[2]
    }
    return 0
  }
  function size(b) {
    if (b >= 1073741824) return sprintf("%.2f GiB", b / 1073741824)
    if (b >= 1048576) return sprintf("%.1f MiB", b / 1048576)
    return sprintf("%d B", b)
  }
  function rate(r) {
    if (r >= 1e9) return sprintf("%.2f GB/s", r / 1e9)
    if (r >= 1e6) return sprintf("%.1f MB/s", r / 1e6)
    return sprintf("%.1f kB/s", r / 1e3)
  }
  field("role") == "router" {
    routers++; received = field("messages"); bytes = field("bytes")
    seconds = field("seconds"); corrupt = field("corrupt") + field("out_of_order")
    ports = field("ports")
  }
  field("role") == "worker" { reported++; sent += field("messages"); chunks += field("chunks_in_use") }
  { fds += field("fds_leaked"); mappings += field("mappings_left") }
  END {
    if (routers != 1 || reported != workers) {
      printf "run_demo: missing summaries (router %d of 1, workers %d of %d)\n", routers, reported, workers > "/dev/stderr"
      exit 1
    }
    printf "\nshmport demo summary\n"
    printf "  ports                  %d (one per worker)\n", ports
    printf "  messages               %d sent, %d received, %d corrupt\n", sent, received, corrupt
    printf "  bytes                  %s\n", size(bytes)
    printf "  throughput             %s over %.1f s\n", rate(seconds > 0 ? bytes / seconds : 0), seconds
    printf "  chunks still in use:   %d\n", chunks
    printf "  fds leaked:            %d\n", fds
    printf "  segments still mapped: %d\n", mappings
    clean = status == 0 && sent == received && corrupt == 0 && chunks == 0 && fds == 0 && mappings == 0 && bytes > 0
    printf "  %s\n", clean ? "clean stop" : "NOT CLEAN: see the numbers above"
    exit clean ? 0 : 1
  }' "$WORK/all.summary"
rc=$?
((rc == 0)) || keep_logs=1
exit "$rc"
