#!/usr/bin/env bash
# Runs one file of the Python tests with Debian's /usr/bin/python3 and
# pytest, against the package as installed (//python:site), a real
# shmportd and the C++ peer. Fails when pytest fails.
#   run_pytest.sh tests/python/<file>_test.py
set -euo pipefail

RUNFILES=${TEST_SRCDIR:?}/shmport
export PYTHONPATH=$RUNFILES/python/site:$RUNFILES/tests/python
export SHMPORT_TEST_SHMPORTD=$RUNFILES/server/shmportd
export SHMPORT_TEST_PEER=$RUNFILES/tests/python/cpp_echo_peer
# A sanitizer build (--config=asan/tsan) of _shmport.so must have its
# runtime loaded first: /usr/bin/python3 is not instrumented. Leak
# detection stays off (the interpreter never frees everything at exit);
# the tests count what a port leaves behind themselves.
for runtime in asan tsan; do
  lib=$(ldd "$RUNFILES/python/site/shmport/_shmport.so" |
    awk -v rt="lib$runtime.so" 'index($1, rt) == 1 { print $3 }')
  if [[ -n $lib ]]; then
    export LD_PRELOAD=$lib
    export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
  fi
done
# No .pytest_cache in the runfiles; no plugins from elsewhere.
export PYTEST_DISABLE_PLUGIN_AUTOLOAD=1
exec /usr/bin/python3 -m pytest -q -p no:cacheprovider \
  --rootdir="$RUNFILES/tests/python" "$RUNFILES/$1"
