"""shmport_fuzz_target: one libFuzzer target and its corpus replay test.

For a target `name`, the package holds `name + ".cc"` (defining
LLVMFuzzerTestOneInput) and optionally `corpus/<name>/` (seeds) and
`regressions/<name>/` (inputs that once failed and must keep passing).
This macro declares:

  <name>               the libFuzzer binary. Tagged "manual" and
                       "fuzz_target": it only links with clang and
                       -fsanitize=fuzzer, which tools/build_fuzzers.sh passes
                       to a separate Bazel output base. Never built by //...
  <name>_replay_test   a plain cc_test (gcc, the shared build) that runs every
                       seed and regression input through the same entry
                       point; part of `make test`, plain and under ASan+UBSan.
"""

load("@rules_cc//cc:defs.bzl", "cc_binary", "cc_test")

def shmport_fuzz_target(name, deps = []):
    pkg = native.package_name()
    deps = deps + ["//tests/fuzz:fuzz_check"]
    cc_binary(
        name = name,
        srcs = [name + ".cc"],
        deps = deps,
        testonly = True,
        tags = ["manual", "fuzz_target"],
    )
    cc_test(
        name = name + "_replay_test",
        size = "small",
        srcs = [name + ".cc"],
        deps = deps + ["//tests/fuzz:replay_main"],
        data = native.glob([
            "corpus/%s/**" % name,
            "regressions/%s/**" % name,
        ]),
        args = [
            "%s/corpus/%s" % (pkg, name),
            "%s/regressions/%s" % (pkg, name),
        ],
    )
