#!/usr/bin/env bash
# The shipped systemd units pass `systemd-analyze verify` (system units,
# and the user units with --user), and the example config starts a daemon.
# No systemd runs in a container: verify loads the units offline. Their
# ExecStart= names /usr/bin/shmportd, which a build tree does not have, so
# the copies verified here point at the built binary instead; nothing else
# in them changes.
set -uo pipefail

RUNFILES="${TEST_SRCDIR:?run me with bazel test}/shmport"
SHMPORTD="$RUNFILES/server/shmportd"
WORK=$(mktemp -d /tmp/sp-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# Copies units $2... into $1 with the binary's path swapped; prints names.
stage() {
  local dir=$1
  shift
  mkdir -p "$dir"
  for unit in "$@"; do
    grep -q '^ExecStart=/usr/bin/shmportd' "$unit" ||
      [[ "$unit" != *.service ]] || fail "$unit: ExecStart is not /usr/bin/shmportd"
    sed "s|/usr/bin/shmportd|$SHMPORTD|" "$unit" >"$dir/$(basename "$unit")"
  done
}

verify() {
  local what=$1
  shift
  local out="$WORK/$what.out"
  if ! "$@" >"$out" 2>&1; then
    fail "$what: systemd-analyze verify failed: $(cat "$out")"
  elif [[ -s "$out" ]]; then
    fail "$what: systemd-analyze verify warned: $(cat "$out")"
  fi
}

system_units=("$RUNFILES"/dist/systemd/*.service "$RUNFILES"/dist/systemd/*.socket)
user_units=("$RUNFILES"/dist/systemd/user/*.service "$RUNFILES"/dist/systemd/user/*.socket)
[[ ${#system_units[@]} -eq 3 ]] || fail "expected 3 system units, found ${system_units[*]}"
[[ ${#user_units[@]} -eq 3 ]] || fail "expected 3 user units, found ${user_units[*]}"

stage "$WORK/system" "${system_units[@]}"
verify system systemd-analyze verify "$WORK"/system/*
stage "$WORK/user" "${user_units[@]}"
mkdir -p "$WORK/run"
verify user env XDG_RUNTIME_DIR="$WORK/run" systemd-analyze --user verify "$WORK"/user/*

# A broken unit is caught: the check above can fail.
mkdir -p "$WORK/broken"
cp "$WORK"/system/* "$WORK/broken/"
sed -i 's/^Type=notify/Type=notyfy/' "$WORK/broken/shmportd.service"
systemd-analyze verify "$WORK"/broken/* 2>&1 | grep notyfy >/dev/null ||
  fail "systemd-analyze verify did not object to Type=notyfy"

# The socket units name their fds as the daemon expects.
grep -q '^FileDescriptorName=control$' "$RUNFILES/dist/systemd/shmportd.socket" ||
  fail "shmportd.socket does not name its fd control"
grep -q '^FileDescriptorName=broker$' "$RUNFILES/dist/systemd/shmportd-broker.socket" ||
  fail "shmportd-broker.socket does not name its fd broker"
grep -q '^ListenStream=/run/shmport/control.sock$' "$RUNFILES/dist/systemd/shmportd.socket" ||
  fail "the system control socket is not /run/shmport/control.sock"

# The example config starts a daemon (with this host's group and a free
# metrics port).
sed -e "s/^socket_group: .*/socket_group: \"$(id -gn)\"/" \
  -e 's/listen: "127.0.0.1:9464"/listen: "127.0.0.1:0"/' \
  "$RUNFILES/dist/shmportd.textproto" >"$WORK/shmportd.textproto"
mkfifo "$WORK/ready"
"$SHMPORTD" --listen="unix:$WORK/d/control.sock" --config="$WORK/shmportd.textproto" \
  --ready_fd=3 3>"$WORK/ready" >"$WORK/daemon.log" 2>&1 &
daemon=$!
ready=""
read -r -t 30 ready <"$WORK/ready"
[[ "$ready" == "ready" ]] || fail "the example config did not start a daemon: $(cat "$WORK/daemon.log")"
kill -TERM "$daemon" 2>/dev/null
wait "$daemon"

if ((failures > 0)); then
  echo "$failures failures"
  exit 1
fi
echo "PASS: systemd-analyze verify accepts the system and user units; the example config starts"
