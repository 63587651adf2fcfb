#!/usr/bin/env bash
# Runs one file of the Python tests with Debian's /usr/bin/python3 and
# pytest, against the package as installed (//python:site), a real
# shmportd and the C++ peers. Fails when pytest fails.
#   run_pytest.sh tests/python/<file>_test.py
set -euo pipefail

RUNFILES=${TEST_SRCDIR:?}/shmport
export PYTHONPATH=$RUNFILES/python/site:$RUNFILES/tests/python
export SHMPORT_TEST_SHMPORTD=$RUNFILES/server/shmportd
export SHMPORT_TEST_PEER=$RUNFILES/tests/python/cpp_echo_peer
export SHMPORT_TEST_TOPIC_PUBLISHER=$RUNFILES/tests/python/cpp_topic_publisher
# shellcheck source=tests/python/sanitizer_preload.sh
source "$RUNFILES/tests/python/sanitizer_preload.sh" \
  "$RUNFILES/python/site/shmport/_shmport.so"
# No .pytest_cache in the runfiles; no plugins from elsewhere.
export PYTEST_DISABLE_PLUGIN_AUTOLOAD=1
exec /usr/bin/python3 -m pytest -q -p no:cacheprovider \
  --rootdir="$RUNFILES/tests/python" "$RUNFILES/$1"
