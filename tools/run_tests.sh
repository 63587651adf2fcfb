#!/usr/bin/env bash
# Runs the whole suite: the static checks (clang's thread-safety analysis of
# every source file, tools/thread_safety_check.sh; no function over 80
# lines in client/, server/ and common/, tools/function_lengths.py), the
# plain build (-Werror on our sources, .bazelrc), then ASan+UBSan, then the concurrency
# tests under TSan. Ends with one line "N passed, N failed" counted from the
# test cases in Bazel's JUnit XML plus the static checks' cases (one per
# file checked), and exits non-zero on any failure.
#
#   SHMPORT_TEST_PHASES="static plain asan tsan"   which phases to run
#   BAZEL=bazel                                     the bazel binary
set -uo pipefail
cd "$(dirname "$0")/.."

BAZEL=${BAZEL:-bazel}
PHASES=${SHMPORT_TEST_PHASES:-static plain asan tsan}
TALLY=$(mktemp /tmp/shmport-tally.XXXXXX)
trap 'rm -f "$TALLY"' EXIT
echo "0 0" >"$TALLY"
overall=0

# Adds one case, passed (0) or failed (anything else), to the tally.
tally_case() {
  local p f
  read -r p f <"$TALLY"
  if (($1 == 0)); then
    p=$((p + 1))
  else
    f=$((f + 1))
    overall=1
  fi
  echo "$p $f" >"$TALLY"
}

run_phase() {
  local name=$1 query=$2
  shift 2
  local labels
  labels=$($BAZEL query --noshow_progress "$query" 2>/dev/null | sort)
  if [[ -z "$labels" ]]; then
    echo "== $name: no tests selected"
    return
  fi
  echo "== $name: $(echo "$labels" | wc -l) test targets"
  # shellcheck disable=SC2086
  $BAZEL test "$@" $labels
  local rc=$?
  if ((rc != 0 && rc != 3)); then
    # 3 = some tests failed (counted below); anything else is a build error.
    echo "== $name: bazel exited $rc"
  fi
  ((rc != 0)) && overall=1
  local testlogs
  testlogs=$($BAZEL info "$@" bazel-testlogs 2>/dev/null)
  # shellcheck disable=SC2086
  python3 tools/test_summary.py "$testlogs" $labels --tally "$TALLY"
}

for phase in $PHASES; do
  case $phase in
    static)
      # One case per source file, and two for the check's self-test.
      echo "== static: clang -Wthread-safety -Werror (tools/thread_safety_check.sh)"
      BAZEL=$BAZEL tools/thread_safety_check.sh --tally "$TALLY" || overall=1
      echo "== static: no function over 80 lines in client/, server/ and common/"
      python3 tools/function_lengths.py --max 80 --top 3 client server common
      tally_case $?
      ;;
    plain)
      run_phase plain 'tests(//...) except attr(tags, "manual", tests(//...))'
      ;;
    asan)
      # Sanitizer builds skip the tests tagged no-sanitizer (timing-heavy
      # load tests) and those that exec external tools only.
      run_phase asan+ubsan \
        'tests(//...) except attr(tags, "manual|no-sanitizer", tests(//...))' \
        --config=asan --config=ubsan --platform_suffix=asan-ubsan
      ;;
    tsan)
      run_phase tsan \
        'attr(tags, "concurrency", tests(//...)) except attr(tags, "manual", tests(//...))' \
        --config=tsan
      ;;
    *)
      echo "unknown phase $phase" >&2
      exit 2
      ;;
  esac
done

read -r passed failed <"$TALLY"
if ((failed > 0)); then overall=1; fi
echo "$passed passed, $failed failed"
exit $overall
