#!/usr/bin/env bash
# Issue 13, acceptance 2: under systemd-socket-activate, with the control
# (SOCK_STREAM) and broker (SOCK_SEQPACKET) sockets passed in and named,
# shmportd serves on the inherited sockets: a router and a worker
# register, attach and open a port. With NOTIFY_SOCKET pointing at this
# test's datagram socket, the daemon sends READY=1 once serving and
# STOPPING=1 on SIGTERM; it leaves the inherited socket files in place.
# A socket of the wrong type is refused, and the control-connection caps
# hold on an inherited socket.
#
# systemd-socket-activate has one socket type per invocation, so two run
# nested: the outer one passes the broker socket through to the inner one,
# which adds the control socket (--fdname names both, in fd order). Each
# execs its child on the first connection, which the test makes.
set -uo pipefail

RUNFILES="${TEST_SRCDIR:?run me with bazel test}/shmport"
command -v systemd-socket-activate >/dev/null ||
  { echo "FAIL: no systemd-socket-activate (run tools/setup.sh)"; exit 1; }
source "$RUNFILES/tests/ops/process_group.sh"

# The service manager's side of sd_notify: a datagram socket whose
# messages go to notify.log, one line per field.
python3 -u -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
with open(sys.argv[2], "w") as out:
    while True:
        data = s.recv(4096).decode()
        out.write(data.rstrip("\n") + "\n--\n")
        out.flush()
' "$WORK/notify.sock" "$WORK/notify.log" &
pids+=($!)
wait_for 10 "the notify socket" test -S "$WORK/notify.sock"

systemd-socket-activate -l "$WORK/broker.sock" --seqpacket --fdname=broker \
  systemd-socket-activate -l "$WORK/control.sock" --fdname=broker:control \
  -E NOTIFY_SOCKET="$WORK/notify.sock" \
  "$RUNFILES/server/shmportd" --log_level=info >"$WORK/activate.log" 2>&1 &
daemon=$!
pids+=($daemon)

# First connections: each makes one systemd-socket-activate exec its child.
python3 -c '
import socket, sys, time
def connect(kind, path):
    for _ in range(100):
        try:
            s = socket.socket(socket.AF_UNIX, kind)
            s.connect(path)
            return s
        except OSError:
            time.sleep(0.1)
    sys.exit("cannot connect to " + path)
b = connect(socket.SOCK_SEQPACKET, sys.argv[1])
c = connect(socket.SOCK_STREAM, sys.argv[2])
' "$WORK/broker.sock" "$WORK/control.sock" || fail "could not trigger the activation"
control_inode=$(stat -c %i "$WORK/control.sock")
broker_inode=$(stat -c %i "$WORK/broker.sock")

ready() { grep -q '^READY=1$' "$WORK/notify.log"; }
wait_for 30 "READY=1 on the notify socket" ready
grep -q "^MAINPID=$daemon$" "$WORK/notify.log" || fail "READY names no MAINPID=$daemon"
grep -q "^STATUS=serving unix:$WORK/control.sock" "$WORK/notify.log" ||
  fail "no STATUS=serving line"
grep -q 'event=daemon_started .*socket_activated=true' "$WORK/activate.log" ||
  fail "the daemon did not report serving on inherited sockets"

# Clients: register, attach and open a port over the inherited sockets.
ADDRESS="unix:$WORK/control.sock"
"$RUNFILES/examples/router" --address="$ADDRESS" >"$WORK/router.log" 2>&1 &
pids+=($!)
"$RUNFILES/examples/worker" --address="$ADDRESS" --payload=4096 >"$WORK/worker.log" 2>&1 &
worker=$!
pids+=($worker)
streaming() { grep -q 'streaming .* over port [0-9]' "$WORK/worker.log"; }
wait_for 20 "the worker to open a port to the router" streaming
ports=$("$RUNFILES/cli/shmportctl" --address="$ADDRESS" ports 2>&1)
grep -q 'worker-1' <<<"$ports" || fail "shmportctl ports lists no worker-1 port: $ports"
# The daemon bound nothing itself: the files are still the manager's.
[[ $(stat -c %i "$WORK/control.sock") == "$control_inode" ]] || fail "control.sock was replaced"
[[ $(stat -c %i "$WORK/broker.sock") == "$broker_inode" ]] || fail "broker.sock was replaced"

# SIGTERM: STOPPING=1, a clean exit, the inherited socket files left.
kill -TERM "$daemon"
stopping() { grep -q '^STOPPING=1$' "$WORK/notify.log"; }
wait_for 10 "STOPPING=1 on the notify socket" stopping
wait "$daemon"
rc=$?
[[ $rc -eq 0 ]] || fail "shmportd exited $rc after SIGTERM"
[[ -S "$WORK/control.sock" && -S "$WORK/broker.sock" ]] ||
  fail "the daemon removed the inherited socket files"
[[ ! -e "$WORK/admin.token" ]] || fail "admin.token left behind"
awk '/^READY=1$/ { r = NR } /^STOPPING=1$/ { s = NR } END { exit !(r && s && r < s) }' \
  "$WORK/notify.log" || fail "READY=1 did not come before STOPPING=1"
echo "notifications:"
cat "$WORK/notify.log"

# A socket of the wrong type under a daemon's name stops start-up, naming
# the fd: a stream socket passed as "broker".
mkdir "$WORK/wrong"
systemd-socket-activate -l "$WORK/wrong/control.sock" --fdname=broker \
  "$RUNFILES/server/shmportd" --listen="unix:$WORK/wrong/c.sock" \
  >"$WORK/wrong.log" 2>&1 &
wrong=$!
pids+=($wrong)
wait_for 10 "the wrong-type socket" test -S "$WORK/wrong/control.sock"
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])' \
  "$WORK/wrong/control.sock" || fail "could not trigger the wrong-type activation"
wait "$wrong"
rc=$?
[[ $rc -eq 1 ]] || fail "a stream socket named broker: exit $rc, expected 1"
grep -q "inherited fd 3 named 'broker' is not a listening unix sequential-packet socket" \
  "$WORK/wrong.log" || fail "the refusal does not name the fd and type"
# The connection caps hold on an inherited control socket as on a bound
# one: with connections.max_control_connections = 2, the first two
# connections get gRPC's SETTINGS frame and the third is closed at once.
mkdir "$WORK/capped"
cat >"$WORK/capped.textproto" <<CONF
connections { max_control_connections: 2 max_control_connections_per_uid: 2 }
CONF
systemd-socket-activate -l "$WORK/capped/control.sock" --fdname=control \
  "$RUNFILES/server/shmportd" --config="$WORK/capped.textproto" \
  >"$WORK/capped.log" 2>&1 &
capped=$!
pids+=($capped)
wait_for 10 "the capped daemon's socket" test -S "$WORK/capped/control.sock"
python3 -c '
import socket, sys
conns = []
for _ in range(3):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    conns.append(s)
got = []
for s in conns:
    s.settimeout(20)
    got.append("data" if s.recv(64) else "eof")
print(" ".join(got))
sys.exit(got != ["data", "data", "eof"])
' "$WORK/capped/control.sock" >"$WORK/capped-clients.log" 2>&1 ||
  fail "connections on the inherited socket: $(cat "$WORK/capped-clients.log"), want data data eof"
grep -q 'event=control_connection_refused.*connections.max_control_connections = 2' \
  "$WORK/capped.log" || fail "the refusal on the inherited socket names no cap"
echo "PASS: served on inherited sockets; READY=1 then STOPPING=1; a wrong socket type is refused; the connection caps hold on an inherited socket"
