#!/usr/bin/env bash
# //bench:control_plane_load at a tiny size: it runs to the end against a
# real shmportd, and what it reports adds up (every port end delivered,
# the daemon's fds, the victims gone after they exited). Asserts no speed.
set -euo pipefail
BIN="$TEST_SRCDIR/shmport/bench/control_plane_load"

out=$("$BIN" --processes=20 --ports=100 --deaths=5 --query_samples=2 --json)
echo "$out"
OUT="$out" /usr/bin/python3 - <<'PY'
import json, os, sys
r = json.loads(os.environ["OUT"])
checks = [
    (r["processes"] == 20, "processes"),
    (r["ports"] == 100, "ports"),
    (r["port_ends_delivered"] == 200, "both ends of every port delivered"),
    # 2 per client (link, pidfd) + 2 per held control connection.
    (r["daemon_proc_fds"] >= 4 * 20, "daemon fds cover the clients"),
    (r["daemon_open_fds"] == r["daemon_proc_fds"], "DaemonStats.open_fds"),
    (r["deaths"] == 5, "deaths"),
    (0 < r["deaths_to_exited_ms"] <= r["deaths_to_unlisted_ms"],
     "victims unlisted only after they exited"),
    (r["all_killed_to_empty_ms"] > 0, "registry emptied"),
    (0 < r["register_attach_open_p50_us"] <= r["register_attach_open_p99_us"],
     "sequence percentiles"),
    (r["list_ports_p50_us"] > 0 and r["get_stats_p50_us"] > 0, "queries"),
    (r["list_ports_pages"] >= 1 and r["get_stats_pages"] >= 1, "pages"),
    (r["daemon_rss_bytes"] > r["daemon_idle_rss_bytes"] > 0, "RSS"),
]
failed = [what for ok, what in checks if not ok]
if failed:
    sys.exit("FAILED: " + ", ".join(failed))
PY

# Sizes that cannot work are refused before anything starts.
if "$BIN" --processes=20 --ports=100 --deaths=20 2>/dev/null; then
  echo "FAILED: --deaths=--processes was accepted" >&2
  exit 1
fi
echo PASS
