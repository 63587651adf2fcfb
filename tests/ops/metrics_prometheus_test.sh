#!/usr/bin/env bash
# Issue 13, acceptance 1: a real Prometheus (Debian's `prometheus`) scrapes
# shmportd's /metrics every second while a router and two workers stream
# through it. Through Prometheus's HTTP API the test finds per-port byte
# counters that grow between two queries and chunks-in-use gauges within
# the configured total; `promtool check metrics` accepts the exposition.
# With limits.max_watchers at 1, a second `shmportctl watch` is refused,
# and Prometheus sees that refusal under its limit, one watcher and the
# open control connections.
# Every wait polls a condition under a deadline.
set -uo pipefail

RUNFILES="${TEST_SRCDIR:?run me with bazel test}/shmport"
for tool in prometheus promtool curl jq python3; do
  command -v "$tool" >/dev/null || { echo "FAIL: no $tool (run tools/setup.sh)"; exit 1; }
done
source "$RUNFILES/tests/ops/process_group.sh"

# A port nobody listens on now (the kernel's pick for an ephemeral bind).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# --- shmportd with a small default geometry: 64 chunks x 2 segments. -----
CHUNKS_LIMIT=128
cat >"$WORK/shmportd.textproto" <<CONF
limits {
  default_geometry { chunk_size: 16384 chunk_count: 64 max_segments: 2 }
  max_watchers: 1
  max_watchers_per_uid: 1
}
metrics { max_port_series: 16 }
CONF
ADDRESS="unix:$WORK/control.sock"
mkfifo "$WORK/ready"
"$RUNFILES/server/shmportd" --listen="$ADDRESS" --config="$WORK/shmportd.textproto" \
  --metrics_listen=127.0.0.1:0 --ready_fd=3 3>"$WORK/ready" \
  >"$WORK/shmportd.log" 2>&1 &
pids+=($!)
ready=""
read -r -t 30 ready <"$WORK/ready"
[[ "$ready" == "ready" ]] || fail "shmportd did not start"
# Port 0: the daemon's log line names the port it bound.
METRICS_PORT=$(sed -n 's/.*event=metrics_serving address=127\.0\.0\.1:\([0-9]*\).*/\1/p' \
  "$WORK/shmportd.log")
[[ -n "$METRICS_PORT" ]] || fail "no metrics_serving line names the port"

# --- Traffic: a router and two workers. ---------------------------------------
"$RUNFILES/examples/router" --address="$ADDRESS" >"$WORK/router.log" 2>&1 &
pids+=($!)
for n in 1 2; do
  "$RUNFILES/examples/worker" --address="$ADDRESS" --name="worker-$n" \
    --payload=65536 >"$WORK/worker-$n.log" 2>&1 &
  pids+=($!)
done

# --- One watcher holds the only slot; a second is refused for the limit. ---
"$RUNFILES/cli/shmportctl" --address="$ADDRESS" watch >"$WORK/watch-1.log" 2>&1 &
pids+=($!)
watching() { curl -sf "http://127.0.0.1:$METRICS_PORT/metrics" | grep '^shmport_watchers 1$' >/dev/null; }
wait_for 15 "the first watcher to be counted" watching
"$RUNFILES/cli/shmportctl" --address="$ADDRESS" watch >"$WORK/watch-2.log" 2>&1 &&
  fail "a second watcher was admitted with limits.max_watchers = 1"
grep -q 'limits.max_watchers' "$WORK/watch-2.log" ||
  fail "the second watcher's refusal names no limit: $(cat "$WORK/watch-2.log")"

# --- The exposition itself passes promtool. ------------------------------------
curl -sf "http://127.0.0.1:$METRICS_PORT/metrics" >"$WORK/exposition.txt" ||
  fail "GET /metrics failed"
promtool check metrics <"$WORK/exposition.txt" >"$WORK/promtool.log" 2>&1 ||
  fail "promtool check metrics rejected the exposition: $(cat "$WORK/promtool.log")"
grep -q '^shmport_build_info{version="[^"]*"} 1$' "$WORK/exposition.txt" ||
  fail "no shmport_build_info in the exposition"

# --- Prometheus, scraping every second. -----------------------------------------
PROM_PORT=$(free_port)
cat >"$WORK/prometheus.yml" <<CONF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: shmportd
    static_configs:
      - targets: ["127.0.0.1:$METRICS_PORT"]
CONF
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
  --web.listen-address="127.0.0.1:$PROM_PORT" >"$WORK/prometheus.log" 2>&1 &
pids+=($!)

# Prints "labels value" per series of the instant query $1, sorted.
query() {
  curl -sf --get "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" |
    jq -r '.data.result[] | "\(.metric.port_id)/\(.metric.a)/\(.metric.b)/\(.metric.end) \(.value[1])"' |
    sort
}
two_ports_sending() {
  [[ $(query 'shmport_port_sent_bytes_total > 0' | wc -l) -ge 2 ]]
}
wait_for 25 "Prometheus to scrape two ports with bytes sent" two_ports_sending
first=$(query 'shmport_port_sent_bytes_total > 0')
echo "first query:"
echo "$first"
grep -q '/worker-1/router/a ' <<<"$first" || fail "no series for worker-1 -> router"
grep -q '/worker-2/router/a ' <<<"$first" || fail "no series for worker-2 -> router"

# Every series seen in the first query grows.
all_grew() {
  local now
  now=$(query 'shmport_port_sent_bytes_total > 0')
  while read -r series value; do
    local later
    later=$(awk -v s="$series" '$1 == s { print $2 }' <<<"$now")
    [[ -n "$later" ]] || return 1
    awk -v a="$value" -v b="$later" 'BEGIN { exit !(b > a) }' || return 1
  done <<<"$first"
}
wait_for 10 "the per-port byte counters to grow" all_grew
echo "later query:"
query 'shmport_port_sent_bytes_total > 0'

# Chunks in use: every end's gauge is present and within the configured total.
limits=$(query 'shmport_port_chunks_limit')
in_use=$(query 'shmport_port_chunks_in_use')
[[ $(wc -l <<<"$in_use") -ge 4 ]] || fail "chunks-in-use gauges missing: $in_use"
while read -r series value; do
  [[ "$value" == "$CHUNKS_LIMIT" ]] ||
    fail "$series: chunks limit $value, configured $CHUNKS_LIMIT"
done <<<"$limits"
while read -r series value; do
  awk -v v="$value" -v l="$CHUNKS_LIMIT" 'BEGIN { exit !(v >= 0 && v <= l) }' ||
    fail "$series: $value chunks in use, outside [0, $CHUNKS_LIMIT]"
done <<<"$in_use"
over=$(query 'shmport_port_chunks_in_use > on(port_id, end) shmport_port_chunks_limit')
[[ -z "$over" ]] || fail "PromQL finds chunks in use above the limit: $over"
up=$(curl -sf --get "http://127.0.0.1:$PROM_PORT/api/v1/query" \
  --data-urlencode 'query=up{job="shmportd"}' | jq -r '.data.result[0].value[1]')
[[ "$up" == "1" ]] || fail "up{job=shmportd} is '$up'"
# The refusal, the watcher and the connections, as Prometheus stored them.
value() {
  curl -sf --get "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" |
    jq -r '.data.result[0].value[1] // empty'
}
refused=$(value 'shmport_limit_refusals_total{limit="limits.max_watchers"}')
[[ "$refused" == "1" ]] || fail "limits.max_watchers refusals: '$refused', want 1"
[[ "$(value 'shmport_watchers')" == "1" ]] || fail "shmport_watchers is not 1"
[[ "$(value 'sum(shmport_limit_refusals_total)')" == "1" ]] ||
  fail "refusals counted under other limits: $(value 'sum(shmport_limit_refusals_total)')"
connections=$(value 'shmport_control_connections')
awk -v c="$connections" 'BEGIN { exit !(c >= 4) }' ||
  fail "shmport_control_connections is '$connections', want >= 4 (router, 2 workers, watcher)"
echo "PASS: Prometheus scraped growing per-port byte counters, bounded chunk gauges, and the watcher refusal under its limit"
