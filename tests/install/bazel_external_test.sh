#!/usr/bin/env bash
# shmport as another workspace's external repository (issue 10, acceptance
# 3): a fresh workspace under /tmp names this source tree with the README's
# WORKSPACE lines (local_repository + shmport_dependencies()), builds a
# sender (consumer.cc) and a receiver (echo_peer.cc) on
# @shmport//client:shmport with the README's BUILD rule, offline, and runs
# them through a real shmportd: 1,000 messages of 0 B - 8 MiB each way,
# every byte checked.
#
# Its Bazel runs in batch mode in /tmp/shmport-ext-bazel/<hash of the
# source path>/{ws,root}, kept between runs: the first run compiles
# libshmport (about 5 minutes on 2 busy cores), later ones only what
# changed.
# Tagged "external": the result depends on the whole source tree.
set -uo pipefail
WORK_PREFIX=sp-bzl
# shellcheck source=tests/install/testlib.sh
source "${TEST_SRCDIR:?run me with bazel test}/shmport/tests/install/testlib.sh"

source_tree=$(readlink -f "$RUNFILES/tests/install/consumer.cc")
source_tree=${source_tree%/tests/install/consumer.cc}
[[ -f $source_tree/bazel/deps.bzl ]] || { echo "FAIL: no source tree at '$source_tree'"; exit 1; }
BAZEL=${BAZEL:-$(command -v bazel)}
[[ -x $BAZEL ]] || { echo "FAIL: no bazel"; exit 1; }

# The workspace and the output root stay at fixed places between runs (the
# output base is named after the workspace's path): later runs rebuild only
# what changed.
state="/tmp/shmport-ext-bazel/$(echo -n "$source_tree" | md5sum | cut -c1-12)"
ws="$state/ws"
user_root="$state/root"
rm -rf "$ws"
mkdir -p "$ws" "$user_root"
readme_block bazel-workspace | sed "s|/path/to/shmport|$source_tree|" >"$ws/WORKSPACE"
{
  echo 'cc_binary(name = "sender", srcs = ["consumer.cc", "exchange.h"], copts = ["-std=c++20"], deps = ["@shmport//client:shmport"])'
  readme_block bazel-build | sed -e 's/"app"/"receiver"/' -e 's/"app.cc"/"echo_peer.cc", "exchange.h"/'
} >"$ws/BUILD.bazel"
grep -q 'shmport_dependencies()' "$ws/WORKSPACE" || fail "the README's WORKSPACE lines are missing"
grep -q '@shmport//client:shmport' "$ws/BUILD.bazel" || fail "the README's BUILD rule is missing"
cp "$RUNFILES"/tests/install/{consumer.cc,echo_peer.cc,exchange.h} "$ws/"
cat >"$ws/.bazelrc" <<'RC'
common --experimental_repository_disable_download
build --jobs=2 --nosandbox_debug
RC

export HOME=${HOME:-$WORK}
if ! (cd "$ws" && "$BAZEL" --batch --output_user_root="$user_root" build //:sender //:receiver \
  >"$WORK/bazel.log" 2>&1); then
  tail -40 "$WORK/bazel.log"
  echo "FAIL: the out-of-tree workspace did not build"
  exit 1
fi
bin=$(cd "$ws" && "$BAZEL" --batch --output_user_root="$user_root" info bazel-bin 2>/dev/null)
[[ -x $bin/sender && -x $bin/receiver ]] || { echo "FAIL: no sender/receiver under '$bin'"; exit 1; }

start_daemon
PEER="$bin/receiver" run_exchange "out-of-tree Bazel" "$bin/sender" bazel-sender

finish "an out-of-tree Bazel workspace built and ran a sender/receiver pair on @shmport"
