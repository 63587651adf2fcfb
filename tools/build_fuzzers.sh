#!/usr/bin/env bash
# Builds the libFuzzer targets (every //tests/fuzz target tagged fuzz_target)
# with Debian's clang 14 and -fsanitize=fuzzer,address,undefined, then copies
# them to $SHMPORT_FUZZ_BIN and prints their paths, one a line, on stdout.
#
# The build uses a Bazel output base of its own, so the shared gcc build keeps
# its server, its cache and its bazel-* symlinks: switching that build's
# compiler would rebuild everything for everyone. The fuzz server exits by
# itself after a few idle minutes.
#
#   tools/build_fuzzers.sh                  every fuzz target
#   tools/build_fuzzers.sh NAME...          only these (e.g. wire_decode_fuzzer)
#
#   SHMPORT_FUZZ_OUTPUT_BASE  Bazel output base  (~/.cache/bazel-fuzz/<checkout>)
#   SHMPORT_FUZZ_BIN          where binaries go  (~/.cache/shmport-fuzz/<checkout>/bin)
#   BAZEL                     the bazel binary   (bazel)
set -euo pipefail
cd "$(dirname "$0")/.."

BAZEL=${BAZEL:-bazel}
# One output base and bin directory per checkout: an output base belongs to
# one workspace.
checkout=$(pwd -P | md5sum | cut -c1-8)
OUTPUT_BASE=${SHMPORT_FUZZ_OUTPUT_BASE:-$HOME/.cache/bazel-fuzz/$checkout}
BIN_DIR=${SHMPORT_FUZZ_BIN:-$HOME/.cache/shmport-fuzz/$checkout/bin}

for tool in clang clang++; do
  if ! command -v "$tool" >/dev/null; then
    echo "build_fuzzers: $tool not found; run tools/setup.sh" >&2
    exit 1
  fi
done
if [[ ! -f $(clang -print-file-name=libclang_rt.fuzzer-x86_64.a) ]]; then
  echo "build_fuzzers: the libFuzzer runtime is missing;" \
    "run tools/setup.sh (package libclang-rt-14-dev)" >&2
  exit 1
fi

fuzz_bazel() {
  CC=clang CXX=clang++ "$BAZEL" --output_base="$OUTPUT_BASE" \
    --max_idle_secs=300 "$@"
}

FLAGS=(
  # The C++ toolchain is auto-configured from CC, inside this output base only.
  --repo_env=CC=clang
  --repo_env=CXX=clang++
  # No bazel-bin/bazel-out links: those in the tree belong to the shared build.
  --symlink_prefix=/
  # Coverage instrumentation and sanitizers for every library the target
  # links (//common too), libFuzzer's main only at link time.
  --copt=-fsanitize=fuzzer-no-link,address,undefined
  --copt=-fno-sanitize-recover=all
  --copt=-fno-omit-frame-pointer
  --copt=-gline-tables-only
  --copt=-O1
  --linkopt=-fsanitize=fuzzer,address,undefined
  # Bazel links with `clang`, not `clang++`; without this the C++ parts of
  # the ASan/UBSan runtimes (operator new, vptr checks) are left out.
  --linkopt=-fsanitize-link-c++-runtime
  # Keep symbols for readable stack traces.
  --strip=never
  # clang's warnings are for tools/thread_safety_check.sh to judge; the
  # fuzzers should build whatever they say (.bazelrc adds -Werror).
  --per_file_copt=.*@-Wno-error
)

if (($# > 0)); then
  targets=()
  for name in "$@"; do targets+=("//tests/fuzz:$name"); done
else
  mapfile -t targets < <(fuzz_bazel query --noshow_progress \
    'attr(tags, "fuzz_target", //tests/fuzz:all)' 2>/dev/null)
fi
if ((${#targets[@]} == 0)); then
  echo "build_fuzzers: no fuzz targets found in //tests/fuzz" >&2
  exit 1
fi

# gold (the auto-configured linker; Bazel's --start-lib needs gold or lld)
# warns once per ASan register-spill helper it cannot export: harmless noise.
fuzz_bazel build "${FLAGS[@]}" "${targets[@]}" 2>&1 |
  { grep -v "warning: Cannot export local symbol '__asan_" >&2 || true; }
bazel_bin=$(fuzz_bazel info "${FLAGS[@]}" bazel-bin 2>/dev/null)

mkdir -p "$BIN_DIR"
for label in "${targets[@]}"; do
  name=${label##*:}
  install -m 0755 "$bazel_bin/tests/fuzz/$name" "$BIN_DIR/$name"
  echo "$BIN_DIR/$name"
done
