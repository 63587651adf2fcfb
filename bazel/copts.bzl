"""Compiler options every libshmport target sets on itself.

They are on the targets (not only in .bazelrc) so that the library builds
the same inside another workspace, whose .bazelrc is not ours.
"""

# libshmport is C++20 (designated initializers, defaulted operator==).
SHMPORT_COPTS = ["-std=c++20"]
