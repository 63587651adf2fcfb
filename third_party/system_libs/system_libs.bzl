"""A repository rule that exposes Debian's system libraries to Bazel.

Each library becomes a `cc_library` in `@system_libs//:<name>` whose linkopts
come from `pkg-config --libs` at fetch time (or a fixed list where Debian ships
no .pc file). Headers live in /usr/include, which the auto-configured
toolchain already searches, so no header files are declared.
"""

# name -> pkg-config modules. Empty list: use _FIXED_LINKOPTS instead.
_PKG_CONFIG = {
    "absl": [
        "absl_status",
        "absl_statusor",
        "absl_strings",
        "absl_str_format",
        "absl_time",
        "absl_synchronization",
        "absl_random_random",
        "absl_flat_hash_map",
        "absl_flat_hash_set",
        "absl_span",
        "absl_cleanup",
        "absl_hash",
    ],
    "absl_flags": ["absl_flags", "absl_flags_parse", "absl_flags_usage"],
    "benchmark": ["benchmark"],
    "gmock": ["gmock"],
    "grpc++": ["grpc++"],
    "gtest": ["gtest"],
    "gtest_main": ["gtest_main"],
    # prometheus-cpp-dev: the pull Exposer (civetweb inside) and the core.
    "prometheus_cpp": ["prometheus-cpp-pull", "prometheus-cpp-core"],
    "protobuf": ["protobuf"],
    # libsystemd-dev: sd_notify and sd_listen_fds_with_names.
    "systemd": ["libsystemd"],
}

_FIXED_LINKOPTS = {
    # Debian ships no grpc++_reflection.pc.
    "grpc++_reflection": ["-Wl,--no-as-needed", "-lgrpc++_reflection", "-Wl,--as-needed"],
    "pthread": ["-lpthread"],
    # Header-only, in /usr/include/pybind11 (pybind11-dev).
    "pybind11": [],
}

# name -> a command printing a header directory that the toolchain does not
# search by itself. It is linked into the repository and becomes the
# library's include path (headers only: an extension module links no
# libpython, the interpreter provides its symbols).
_INCLUDE_DIRS = {
    # Debian's interpreter, never a pyenv/virtualenv one on PATH.
    "python3": [
        "/usr/bin/python3",
        "-c",
        "import sysconfig; print(sysconfig.get_paths()['include'])",
    ],
}

# Libraries only //server:daemon calls: in a test binary that links the
# daemon as a shared library, --as-needed would drop them from the test's
# own link line although the daemon's .so needs them.
_NO_AS_NEEDED = ["prometheus_cpp", "systemd"]

_DEPS = {
    "grpc++": ["protobuf", "absl"],
    "pybind11": ["python3"],
    "grpc++_reflection": ["grpc++"],
    "gmock": ["gtest"],
    "gtest_main": ["gtest"],
}

def _pkg_config_libs(ctx, modules):
    result = ctx.execute(["pkg-config", "--libs"] + modules)
    if result.return_code != 0:
        fail("pkg-config --libs {} failed: {}\nRun tools/setup.sh to install the system packages.".format(
            " ".join(modules),
            result.stderr,
        ))
    return result.stdout.strip().split(" ")

def _include_dir_library(ctx, name):
    result = ctx.execute(_INCLUDE_DIRS[name])
    directory = result.stdout.strip()
    if result.return_code != 0 or not directory:
        fail("cannot find the headers of {}: {}\nRun tools/setup.sh to install the system packages.".format(
            name,
            result.stderr,
        ))
    ctx.symlink(directory, name + "_include")
    return [
        "cc_library(",
        '    name = "{}",'.format(name),
        '    hdrs = glob(["{}_include/**/*.h"]),'.format(name),
        '    includes = ["{}_include"],'.format(name),
        ")",
        "",
    ]

def _system_libs_impl(ctx):
    if ctx.which("pkg-config") == None:
        fail("pkg-config not found. Run tools/setup.sh (as root) to install the system packages.")
    lines = ['package(default_visibility = ["//visibility:public"])', ""]
    for name in sorted(_INCLUDE_DIRS.keys()):
        lines += _include_dir_library(ctx, name)
    names = sorted(list(_PKG_CONFIG.keys()) + list(_FIXED_LINKOPTS.keys()))
    for name in names:
        if name in _PKG_CONFIG:
            opts = _pkg_config_libs(ctx, _PKG_CONFIG[name])
        else:
            opts = _FIXED_LINKOPTS[name]
        if name in _NO_AS_NEEDED:
            opts = ["-Wl,--no-as-needed"] + opts + ["-Wl,--as-needed"]

        # De-duplicate while keeping the first occurrence (link order).
        seen = {}
        uniq = []
        for o in opts:
            if o and o not in seen:
                seen[o] = True
                uniq.append(o)
        deps = [":" + d for d in _DEPS.get(name, [])]
        lines.append("cc_library(")
        lines.append('    name = "{}",'.format(name))
        lines.append("    linkopts = {},".format(repr(uniq)))
        lines.append("    deps = {},".format(repr(deps)))
        lines.append(")")
        lines.append("")
    ctx.file("WORKSPACE", 'workspace(name = "{}")\n'.format(ctx.name))
    ctx.file("BUILD.bazel", "\n".join(lines))

system_libs = repository_rule(
    implementation = _system_libs_impl,
    local = True,
    doc = "Debian system libraries (gRPC, protobuf, abseil, gtest, benchmark, Python headers, pybind11, prometheus-cpp, libsystemd) via pkg-config.",
)
