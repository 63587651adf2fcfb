# shmport: the two commands a newcomer needs are `make run` and `make test`.
# Every target installs what is missing first (tools/setup.sh, apt-get).

BAZEL ?= bazel
DEMO ?= 1
DURATION ?= 0
PREFIX ?= /usr/local
DESTDIR ?=
DIST = bazel-bin/lib/shmport-dist.tar

.PHONY: all setup build run test test-quick test-long bench bench-python bench-scale fmt clean \
	help dist install uninstall deb

all: build

help:
	@echo "make run         start shmportd and the demo (DEMO=0: daemon only; DURATION=N: stop after N s)"
	@echo "make test        install, build and run every test (static checks, plain, ASan+UBSan, TSan)"
	@echo "make test-quick  the plain test run only"
	@echo "make test-long   fuzzers and the soak test (tens of minutes)"
	@echo "make bench       transport comparison; writes bench/results/latest.{json,svg}"
	@echo "make bench-python  the Python binding vs multiprocessing.Pipe and a socketpair (bench/python_compare.py)"
	@echo "make bench-scale the control plane at 10,000 processes / 100,000 ports (SCALE_FLAGS=... to resize)"
	@echo "make fmt         clang-format every C++ file"
	@echo "make install     install shmportd, shmportctl, libshmport (.so, .a, headers, pkg-config,"
	@echo "                 CMake) and the Python package into \$$(DESTDIR)\$$(PREFIX) (/usr/local)"
	@echo "make uninstall   remove exactly what make install installed there (same PREFIX, DESTDIR)"
	@echo "make deb         shmport_<version>_amd64.deb of the same files (apt-get install ./shmport_*.deb)"

setup:
	@tools/setup.sh

build: setup
	$(BAZEL) build //...

run: setup
	@tools/run_demo.sh

test: setup
	@tools/run_tests.sh

test-quick: setup
	@SHMPORT_TEST_PHASES=plain tools/run_tests.sh

test-long: setup
	@tools/run_long_tests.sh

bench: setup
	@tools/run_bench.sh

# The control plane at issue 16's size: 10,000 light client processes,
# 100,000 ports, 1,000 of the clients SIGKILLed at once. Needs ~2 GiB of
# memory for the clients and RLIMIT_NOFILE ~44,000 (the bench raises it; as
# root the hard limit too).
SCALE_FLAGS ?= --processes=10000 --ports=100000 --deaths=1000
bench-scale: setup
	$(BAZEL) build -c opt //bench:control_plane_load
	$$($(BAZEL) info -c opt bazel-bin 2>/dev/null)/bench/control_plane_load $(SCALE_FLAGS)

# Optimised builds of the package and the daemon, then one comparison run.
bench-python: setup
	$(BAZEL) build --config=opt //python:site //server:shmportd
	@BIN=$$($(BAZEL) info --config=opt bazel-bin 2>/dev/null) && \
	  PYTHONPATH=$$BIN/python/site /usr/bin/python3 bench/python_compare.py \
	  --shmportd=$$BIN/server/shmportd

fmt: setup
	@git ls-files '*.cc' '*.h' '*.proto' | xargs clang-format -i --style=file

# Everything installed, in one tar (lib/BUILD.bazel, tools/install.sh).
dist: setup
	$(BAZEL) build //lib:dist

install: dist
	@tools/install.sh install --dist $(DIST) --prefix $(PREFIX) --destdir "$(DESTDIR)"

uninstall:
	@tools/install.sh uninstall --prefix $(PREFIX) --destdir "$(DESTDIR)"

deb: dist
	@tools/make_deb.sh --dist $(DIST) --out .

clean:
	$(BAZEL) clean
