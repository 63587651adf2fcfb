"""Offline stand-in for @rules_cc//cc:defs.bzl on Bazel 4.2.

Re-exports Bazel's native C++ rules so BUILD files keep the modern
`load("@rules_cc//cc:defs.bzl", ...)` lines (which a newer Bazel with the real
rules_cc also understands) while Bazel 4.2 builds fully offline. Bazel's own
@bazel_tools//tools/cpp package loads the toolchain rules from here too.
"""

cc_binary = native.cc_binary
cc_import = native.cc_import
cc_library = native.cc_library
cc_proto_library = native.cc_proto_library
cc_test = native.cc_test
cc_toolchain = native.cc_toolchain
cc_toolchain_suite = native.cc_toolchain_suite
fdo_prefetch_hints = native.fdo_prefetch_hints
fdo_profile = native.fdo_profile
objc_import = native.objc_import
objc_library = native.objc_library
