#!/usr/bin/env bash
# The compiler checks the lock discipline: every .cc of client/, server/,
# common/ and cli/ goes through clang's -Wthread-safety analysis (with -Wall
# -Wextra, -Werror), so an ABSL_GUARDED_BY member touched without its Mutex,
# or an ABSL_EXCLUSIVE_LOCKS_REQUIRED method called without it, fails here.
# GCC ignores the attributes (common/mutex.h, decision D23).
#
# First a self-test: a scratch file with a deliberately unguarded access must
# fail and its guarded twin must pass, so a check that silently checks
# nothing (a lost flag, a header that stopped annotating) turns red too.
#
#   tools/thread_safety_check.sh [--tally FILE] [FILE.cc...]
#
# Without files, checks every .cc in those directories. Needs the generated
# protobuf headers in bazel-bin (it builds them). Prints one line per
# failing file with clang's diagnostics, then "N passed, N failed"; with
# --tally, adds both counts to FILE (two numbers, as tools/test_summary.py).
# Exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."

flags() {  # BAZEL_BIN
  FLAGS=(
    -std=c++20 -fsyntax-only
    -Wthread-safety -Wthread-safety-beta -Wall -Wextra -Werror
    # The same two the GCC build turns off (.bazelrc).
    -Wno-unused-parameter -Wno-missing-field-initializers
    -I. -Iinclude -I"$1" -I"$1/proto"
  )
}

CLANG=${CLANG:-clang++}
# Internal: --one BAZEL_BIN OUTDIR FILE checks FILE into OUTDIR/<key>.{rc,out}.
if [[ "${1:-}" == "--one" ]]; then
  flags "$2"
  key=${4//\//_}
  "$CLANG" "${FLAGS[@]}" "$4" >"$3/$key.out" 2>&1
  echo $? >"$3/$key.rc"
  exit 0
fi

BAZEL=${BAZEL:-bazel}
JOBS=${JOBS:-$(nproc)}
TALLY=""
if [[ "${1:-}" == "--tally" ]]; then
  TALLY=$2
  shift 2
fi

scratch=$(mktemp -d /tmp/tsa-XXXXXX)
trap 'rm -rf "$scratch"' EXIT

# Stops before checking anything: one failure in the tally.
give_up() {
  echo "thread_safety_check: $*" >&2
  if [[ -n "$TALLY" ]]; then
    read -r p f <"$TALLY"
    echo "$p $((f + 1))" >"$TALLY"
  fi
  exit 1
}

command -v "$CLANG" >/dev/null ||
  give_up "$CLANG not found (tools/setup.sh installs clang)"
# The generated headers the sources include (shmport/v1/*.pb.h,
# server/config.pb.h).
if ! $BAZEL build --noshow_progress //proto:control_cc_gen \
  //server:config_cc_gen >"$scratch/bazel.log" 2>&1; then
  give_up "cannot build the generated headers: $(tail -20 "$scratch/bazel.log")"
fi
BIN=$($BAZEL info bazel-bin 2>/dev/null) || give_up "bazel info bazel-bin failed"
flags "$BIN"

passed=0
failed=0
report() {  # NAME OUTPUT STATUS(0 ok)
  if (($3 == 0)); then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL $1"
    echo "$2" | sed 's/^/    /'
  fi
}

# --- Self-test: the analysis is on and sees common/mutex.h. ---
cat >"$scratch/unguarded.cc" <<'EOF'
#include "common/mutex.h"
struct Counter {
  shmport::Mutex mu;
  int value ABSL_GUARDED_BY(mu) = 0;
  void Locked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { ++value; }
  int Good() {
    shmport::MutexLock lock(&mu);
    Locked();
    return value;
  }
#ifdef SHMPORT_BREAK_IT
  int Bad() { return value; }  // read without mu: must not compile
  void AlsoBad() { Locked(); }  // called without mu: must not compile
#endif
};
int main() { return Counter().Good(); }
EOF
good=$("$CLANG" "${FLAGS[@]}" "$scratch/unguarded.cc" 2>&1)
report "self-test: a guarded access compiles" "$good" $?
bad=$("$CLANG" "${FLAGS[@]}" -DSHMPORT_BREAK_IT "$scratch/unguarded.cc" 2>&1)
if [[ $? -ne 0 && "$bad" == *"requires holding mutex 'mu'"* &&
  "$bad" == *"calling function 'Locked' requires holding"* ]]; then
  report "self-test: an unguarded access is refused" "" 0
else
  report "self-test: an unguarded access is refused" \
    "clang accepted it, or refused it for another reason: $bad" 1
fi

# --- The tree. ---
if (($# > 0)); then
  files=("$@")
else
  mapfile -t files < <(git ls-files 'client/*.cc' 'server/*.cc' 'common/*.cc' \
    'cli/*.cc' | sort)
fi
start=$(date +%s)
# Each file's verdict in files of its own, $JOBS at a time.
printf '%s\0' "${files[@]}" |
  xargs -0 -P "$JOBS" -n 1 "$0" --one "$BIN" "$scratch"
for f in "${files[@]}"; do
  key=${f//\//_}
  rc=$(cat "$scratch/$key.rc" 2>/dev/null || echo 1)
  report "$f" "$(cat "$scratch/$key.out" 2>/dev/null)" "$rc"
done
echo "thread_safety_check: ${#files[@]} files in $(($(date +%s) - start)) s"

echo "$passed passed, $failed failed"
if [[ -n "$TALLY" ]]; then
  read -r p f <"$TALLY"
  echo "$((p + passed)) $((f + failed))" >"$TALLY"
fi
((failed == 0))
