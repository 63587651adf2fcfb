#!/usr/bin/env bash
# Installs the Debian 12 packages shmport builds and tests with. Idempotent:
# quiet when everything is present; needs root only when something is missing.
set -euo pipefail

PACKAGES=(
  bazel-bootstrap          # Bazel 4.2 (/usr/bin/bazel-4)
  g++ make pkg-config
  cmake                    # tests/install: the CMake consumer of an installed libshmport
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-grpcio python3-protobuf   # the Python control-plane example
  pybind11-dev python3-dev python3-numpy python3-pytest  # the shmport Python package
  clang libclang-rt-14-dev  # libFuzzer targets; clang -Wthread-safety (tools/thread_safety_check.sh)
  clang-format             # make fmt
  procps                   # ps/pgrep in the demo and tests
  tmux                     # shmportctl top on a real terminal (cli:top_terminal_test)
  prometheus-cpp-dev       # shmportd's /metrics endpoint (Exposer, civetweb)
  libsystemd-dev           # sd_notify, socket activation
  prometheus               # the metrics acceptance test scrapes with it
  systemd                  # systemd-socket-activate, systemd-analyze (tests)
  curl jq                  # the metrics test reads /metrics and the API
)

missing=()
for p in "${PACKAGES[@]}"; do
  # Strip trailing comments in the array (bash keeps none, but be explicit).
  [[ "$p" == \#* ]] && continue
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "shmport setup: missing Debian packages: ${missing[*]}" >&2
  echo "Run as root:  sudo tools/setup.sh   (or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi

echo "shmport setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have empty package lists.
if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/shmport-setup.log 2>&1; then
  apt-get update -q >>/tmp/shmport-setup.log 2>&1
  if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/shmport-setup.log 2>&1; then
    echo "shmport setup: apt-get install failed; see /tmp/shmport-setup.log" >&2
    tail -20 /tmp/shmport-setup.log >&2
    exit 1
  fi
fi
echo "shmport setup: done" >&2
