#!/usr/bin/env bash
# Programs outside the source tree use an installed libshmport (issue 10,
# acceptance 2): libshmport goes into a temporary prefix; the C consumer
# and the C++ consumer are copied out of the tree and built with the
# README's own lines (pkg-config for C, CMake for C++; the C program also
# with libshmport.a and pkg-config --static); each runs the
# exchange (exchange.h: 1,000 messages of 0 B - 8 MiB each way, every byte
# checked) with the Bazel-built C++ echo_peer through a real shmportd. The
# README's Python block runs with the installed package against
# //examples/c:receiver.
# The C++ translation unit must see no gRPC or protobuf: no such include
# directory on its compile line, no such header among its dependencies.
set -uo pipefail
WORK_PREFIX=sp-use
# shellcheck source=tests/install/testlib.sh
source "${TEST_SRCDIR:?run me with bazel test}/shmport/tests/install/testlib.sh"

prefix="$WORK/prefix"
bash "$INSTALL_SH" install --dist "$DIST" --prefix "$prefix" >/dev/null 2>&1 || fail "install failed"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig" CMAKE_PREFIX_PATH="$prefix"
export LD_LIBRARY_PATH="$prefix/lib"
start_daemon

# --- C, with pkg-config ---------------------------------------------------------------
mkdir "$WORK/c"
cp "$RUNFILES/tests/install/consumer.c" "$WORK/c/app.c"
cp "$RUNFILES/tests/install/exchange.h" "$WORK/c/"
readme_block c >"$WORK/c/build.sh"
grep -q 'pkg-config --cflags --libs shmport' "$WORK/c/build.sh" || fail "the README's C line is missing"
if (cd "$WORK/c" && bash -e build.sh); then
  ldd "$WORK/c/app" | grep "$prefix/lib/libshmport.so.0" >/dev/null || fail "C: not linked to the installed libshmport.so.0"
  run_exchange "C via pkg-config" "$WORK/c/app" c-consumer
else
  fail "C: the README's pkg-config line did not build consumer.c"
fi

# --- C, with libshmport.a (pkg-config --static) --------------------------------------
if (cd "$WORK/c" && cc -std=c11 -Wall -Wextra -Werror app.c $(pkg-config --cflags shmport) \
  -o app-static -Wl,-Bstatic -lshmport -Wl,-Bdynamic $(pkg-config --static --libs shmport)); then
  ldd "$WORK/c/app-static" | grep libshmport >/dev/null && fail "C static: still needs libshmport.so"
  run_exchange "C via libshmport.a" "$WORK/c/app-static" c-static
else
  fail "C static: consumer.c did not link with libshmport.a and pkg-config --static"
fi

# --- C++, with CMake -------------------------------------------------------------------
mkdir "$WORK/cmake"
cp "$RUNFILES/tests/install/consumer.cc" "$WORK/cmake/app.cc"
cp "$RUNFILES/tests/install/exchange.h" "$WORK/cmake/"
readme_block cmake >"$WORK/cmake/CMakeLists.txt"
grep -q 'find_package(shmport REQUIRED)' "$WORK/cmake/CMakeLists.txt" || fail "the README's CMakeLists is missing"
if (cd "$WORK/cmake" && cmake -S . -B build -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >cmake.log 2>&1 &&
  cmake --build build >>cmake.log 2>&1); then
  compile=$(grep '"command"' "$WORK/cmake/build/compile_commands.json")
  [[ $compile == *"-I$prefix/include"* || $compile == *"-isystem $prefix/include"* ]] ||
    fail "C++: the prefix's include directory is not on the compile line: $compile"
  [[ $compile == *grpc* || $compile == *protobuf* ]] && fail "C++: gRPC/protobuf on the compile line: $compile"
  depfile=$(find "$WORK/cmake/build" -name 'app.cc.o.d' | head -1)
  [[ -s $depfile ]] || fail "C++: no dependency file for app.cc"
  grep -E 'grpc|google/protobuf' "$depfile" && fail "C++: app.cc includes a gRPC or protobuf header"
  grep -q "$prefix/include/shmport/session.h" "$depfile" || fail "C++: app.cc did not use the installed session.h"
  run_exchange "C++ via CMake" "$WORK/cmake/build/app" cmake-consumer
else
  cat "$WORK/cmake/cmake.log"
  fail "C++: the README's CMakeLists did not build consumer.cc"
fi

# --- Python, from the prefix ---------------------------------------------------------
readme_block python >"$WORK/app.py"
grep -q 'import shmport' "$WORK/app.py" || fail "the README's Python block is missing"
pydir=$(/usr/bin/python3 -c 'import sys; print("lib/python%d.%d/dist-packages" % sys.version_info[:2])')
"$RUNFILES/examples/c/receiver" >"$WORK/receiver.out" 2>&1 &
receiver=$!
PYTHONPATH="$prefix/$pydir" timeout 60 /usr/bin/python3 -c \
  'import shmport, sys; sys.exit(not shmport.__file__.startswith(sys.argv[1]))' "$prefix/" ||
  fail "Python: import shmport did not take the installed package"
PYTHONPATH="$prefix/$pydir" timeout 60 /usr/bin/python3 "$WORK/app.py" >"$WORK/app.out" 2>&1 ||
  fail "Python: the README's block failed: $(cat "$WORK/app.out")"
wait "$receiver" || fail "Python: examples/c:receiver exited $?"
grep -qx "b'got 17'" "$WORK/app.out" || fail "Python: reply '$(cat "$WORK/app.out")', want b'got 17'"

finish "the C and the CMake consumers exchanged every byte with a C++ peer"
