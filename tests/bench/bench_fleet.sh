#!/bin/sh
# Fleet benchmark (issue 8): one orchestratord on loopback with a temporary
# database and one node token per simulated host, and build/bench/bench_fleet
# simulating FLEET_HOSTS (500) migrators with FLEET_DOMAINS (40) domains each,
# reporting every 10 s, spread evenly, plus a lifecycle change a second.
# After FLEET_WARMUP_S (30: every host reports, creating its node and VMIs)
# it measures FLEET_STEADY_S (60) of steady state:
#   fleet_orchd_cpu_pct   orchestratord's CPU, % of one core (goal <= 10)
#   fleet_report_p99_ms   a report's round trip, 99th percentile (<= 50)
#   fleet_orchd_rss_mib   orchestratord's VmRSS at the end (<= 200)
#
# Run with `make bench`, or: ORCH_BUILD=build sh tests/bench/bench_fleet.sh
set -eu

BUILD=${ORCH_BUILD:-build}
NHOSTS=${FLEET_HOSTS:-500}
NDOMAINS=${FLEET_DOMAINS:-40}
WARMUP=${FLEET_WARMUP_S:-30}
STEADY=${FLEET_STEADY_S:-60}
tmp=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

{
    printf 'listen = "127.0.0.1:0";\nlog_level = "warn";\n'
    printf 'limits = { max_connections = 4096; };\n'
    printf 'tokens = (\n'
    printf '  { name = "admin"; token = "fleet-admin-0123456789"; role = "admin"; }'
    i=0
    while [ "$i" -lt "$NHOSTS" ]; do
        n=$(printf 'host-%03d' "$i")
        printf ',\n  { name = "%s"; token = "fleet-token-%s-0123456789"; role = "node"; }' "$n" "$n"
        i=$((i + 1))
    done
    printf '\n);\n'
} >"$tmp/conf"

"$BUILD/bin/orchestratord" -f "$tmp/conf" --db "$tmp/fleet.db" 2>"$tmp/log" &
pid=$!
port=
for _ in $(seq 1 100); do
    port=$(ss -Hltnp 2>/dev/null | grep "pid=$pid," |
        sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' | head -1)
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { echo "bench_fleet: daemon did not start" >&2; cat "$tmp/log" >&2; exit 1; }

"$BUILD/bench/bench_fleet" 127.0.0.1 "$port" "$pid" "$NHOSTS" "$NDOMAINS" \
    "$WARMUP" "$STEADY"
# How many records the run wrote: the list's resourceVersion.
n=$(curl -sf -H "Authorization: Bearer fleet-admin-0123456789" \
    "http://127.0.0.1:$port/api/v1/nodes?limit=1" |
    sed -n 's/^[^}]*"resourceVersion":"\([0-9]*\)".*/\1/p')
echo "bench_fleet: store resourceVersion at the end $n" \
    "($NHOSTS nodes, $((NHOSTS * NDOMAINS)) VMIs);" \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)"
