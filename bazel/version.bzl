"""libshmport's version: the shared library's real name, the pkg-config and
CMake package versions and the Debian package version. The SONAME carries
the major number. Keep in step with kClientVersion in
include/shmport/session.h (//tests/install:exported_symbols_test checks).
"""

SHMPORT_VERSION = "0.1.0"
SHMPORT_SOVERSION = "0"
