# Sourced by the scripts that run /usr/bin/python3 on //python:site:
#   source sanitizer_preload.sh PATH/TO/_shmport.so
# A sanitizer build (--config=asan/tsan) of _shmport.so needs its runtime
# loaded first, since the interpreter is not instrumented, and libstdc++
# with it (else ASan's __cxa_throw interceptor finds no real __cxa_throw:
# the interpreter loads libstdc++ only with the module). Leak detection is
# off: the interpreter never frees everything at exit; the tests count
# what a port leaves behind themselves. A plain build: nothing changes.
for runtime in asan tsan; do
  lib=$(ldd "$1" | awk -v rt="lib$runtime.so" 'index($1, rt) == 1 { print $3 }')
  if [[ -n $lib ]]; then
    stdcxx=$(ldd "$1" | awk 'index($1, "libstdc++.so") == 1 { print $3 }')
    export LD_PRELOAD="$lib $stdcxx"
    export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
    supp="$(dirname "${BASH_SOURCE[0]}")/tsan_suppressions.txt"
    export TSAN_OPTIONS=${TSAN_OPTIONS:+$TSAN_OPTIONS:}suppressions=$supp
  fi
done
