#!/usr/bin/env bash
# `make test-long`: the checks too long for `make test`, one after the other.
#
#   1. Fuzzing. Builds every libFuzzer target (tools/build_fuzzers.sh) and
#      runs each for FUZZ_SECONDS seconds, one at a time, under nice: the
#      machine is shared. Each target starts from its checked-in seeds and
#      regressions plus the corpus earlier runs grew in
#      tests/fuzz/corpus-work/<target>/ (gitignored), where its log and any
#      crashing input (artifacts/<target>/) land too.
#   2. Soak (tests/load/soak): 200 workers x 4 ports streaming mixed sizes
#      with random restarts for SOAK_MINUTES (default 2); fails on any
#      corrupt or lost byte or a count that keeps growing.
#
# Ends with one summary line per check and exits non-zero if any failed.
#
#   FUZZ_SECONDS=600 make test-long         ten minutes per target (default 30)
#   FUZZ_TARGETS="wire_decode_fuzzer"       only these targets (default: all)
#   FUZZ_ARGS="-max_len=256"                extra libFuzzer flags
set -uo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-30}
WORK=tests/fuzz/corpus-work
overall=0
summary=()

# Runs one fuzzer binary for FUZZ_SECONDS; appends its summary line.
fuzz_one() {
  local bin=$1
  local name
  name=$(basename "$bin")
  local corpus="$WORK/$name" artifacts="$WORK/artifacts/$name/"
  local log="$WORK/$name.log"
  mkdir -p "$corpus" "$artifacts"
  # libFuzzer writes new inputs into the FIRST directory only: the working
  # corpus, never the checked-in seeds.
  local dirs=("$corpus" "tests/fuzz/corpus/$name")
  [[ -d tests/fuzz/regressions/$name ]] && dirs+=("tests/fuzz/regressions/$name")

  echo "== fuzz $name: ${FUZZ_SECONDS}s (log: $log)"
  # shellcheck disable=SC2086
  ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-$(command -v llvm-symbolizer || true)} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    nice -n 10 "$bin" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 \
    -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$artifacts" \
    ${FUZZ_ARGS:-} "${dirs[@]}" >"$log" 2>&1
  local rc=$?

  local done_line execs rate cov ft
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1)
  execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
  rate=$(awk '/stat::average_exec_per_sec/ {print $2}' "$log")
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$done_line")
  local stats="${execs:-?} execs, ${rate:-?} exec/s, cov ${cov:-?}, ft ${ft:-?}"
  if ((rc == 0)); then
    summary+=("fuzz $name: ok ($stats)")
  else
    overall=1
    summary+=("fuzz $name: FAILED, exit $rc ($stats); input in $artifacts, log $log")
    # The report: libFuzzer's and the sanitizer's lines about the crash.
    grep -E 'SHMPORT_FUZZ_CHECK|ERROR:|SUMMARY:|Test unit written|^    #[0-9]' \
      "$log" | head -40
  fi
}

run_fuzzers() {
  local out
  # shellcheck disable=SC2086
  if ! out=$(tools/build_fuzzers.sh ${FUZZ_TARGETS:-}); then
    overall=1
    summary+=("fuzz: the fuzzers did not build (see above)")
    return
  fi
  local bin
  while IFS= read -r bin; do
    [[ -n $bin ]] && fuzz_one "$bin"
  done <<<"$out"
}

# ---- 1. Fuzzing ---------------------------------------------------------------
run_fuzzers

# ---- 2. Soak test -------------------------------------------------------------
# Bounded in time; adds one line to `summary` ("soak: ok (...numbers)" or
# "soak: FAILED ...") and sets overall=1 when it fails, like fuzz_one.
#   SOAK_MINUTES=2      how long the 200 workers stream (default 2)
#   SOAK_ARGS="--workers=100 --rate=10"   more flags (tests/load/soak_main.cc)
run_soak() {
  local log=${TMPDIR:-/tmp}/shmport-soak-$UID.log minutes=${SOAK_MINUTES:-2}
  echo "== soak: ${minutes} min (log: $log)"
  if ! ${BAZEL:-bazel} build //tests/load:soak //server:shmportd; then
    overall=1
    summary+=("soak: FAILED to build")
    return
  fi
  # The bazel-bin symlink follows whichever build ran last (the machine is
  # shared); ask for the plain build's tree instead.
  local bin limit
  bin=$(${BAZEL:-bazel} info bazel-bin 2>/dev/null)
  # Bounded: the run itself, plus start-up and shutdown, plus slack. GNU
  # timeout signals the whole process group: the daemon and workers too.
  limit=$(awk -v m="$minutes" 'BEGIN { printf "%d", m * 60 + 300 }')
  # shellcheck disable=SC2086
  timeout --signal=KILL "$limit" nice -n 5 "$bin/tests/load/soak" \
    --minutes="$minutes" ${SOAK_ARGS:-} 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local line
  line=$(grep -E '^soak: ' "$log" | tail -1)
  if ((rc == 0)); then
    summary+=("${line:-soak: ok}")
  else
    overall=1
    summary+=("${line:-soak: FAILED, exit $rc} (log $log)")
  fi
}
run_soak

echo
for line in "${summary[@]}"; do echo "$line"; done
exit $overall
