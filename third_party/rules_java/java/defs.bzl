"""Offline stand-in for @rules_java//java:defs.bzl on Bazel 4.2.

shmport has no Java; Bazel 4.2's own @bazel_tools packages load these names,
so they re-export the native rules.
"""

java_binary = native.java_binary
java_import = native.java_import
java_library = native.java_library
java_lite_proto_library = native.java_lite_proto_library
java_plugin = native.java_plugin
java_proto_library = native.java_proto_library
java_runtime = native.java_runtime
java_test = native.java_test
java_toolchain = native.java_toolchain
