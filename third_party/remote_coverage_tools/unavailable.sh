#!/bin/sh
echo "remote_coverage_tools is a stub: bazel coverage is unavailable offline" >&2
exit 1
