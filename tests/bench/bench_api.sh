#!/bin/sh
# REST API benchmark (issue 4): orchestratord on loopback with a temporary
# database, measured with wrk.
#   api_get_rps      GET of one VMIM, server holding 10000 VMIMs
#   api_post_rps     POST of new VMIMs (each for a VMI without one in flight)
#   api_p99_ms       99th percentile latency of the GET runs
#   api_rss_mib      orchestratord's VmRSS holding 100000 migration records
#                    after a list and get workload
#   api_list_selector_p99_ms
#                    99th percentile latency of lists with the label
#                    selector kubevirt.io/vmi-name=vmi-5, 100000 VMIMs stored
#   api_healthz_p99_ms_under_scans
#                    99th percentile latency of GET /healthz (4 connections)
#                    while 4 clients list those 100000 VMIMs with selectors
#                    no index serves (a label none has, 2 clients; a field
#                    VMIMs keep no column for, 2 clients)
# and, to read those against the machine's state:
#   api_healthz_rps  GET /healthz through the same server, in the same
#                    rounds: the HTTP path alone (no store, no routing), so
#                    api_get_rps / api_healthz_rps says what a GET adds and
#                    stays comparable when other load slows everything down
#   api_*_cpu_us     orchestratord's CPU time (user + system, from
#                    /proc/PID/stat) per request: what one request costs
#                    whatever else the machine runs; for a list that no
#                    index serves, how long one request holds the loop
#
# wrk and the server share the machine (2 cores here): wrk runs one thread
# (-t1), which keeps 32 connections busy while using about a quarter of a
# core.  Each round runs healthz, GET and POST for BENCH_SECONDS (3) each;
# the figures are medians of BENCH_RUNS (5) rounds.  A run with any answer
# that is not 2xx, or any socket error, fails: it is not a figure.  Each
# POST round has its own BENCH_POST_VMIS (default 20000 a second of the
# round) VMIs prepared, more than a server takes in that time; should a
# faster one run out, its 404s fail the run and say so.  Set BENCH_PIN=1 to pin
# the server to CPU 0 and wrk to CPU 1 (on a busy shared machine it does
# not help: whichever core another process takes, one side waits).
#
# Run with `make bench`, or: ORCH_BUILD=build sh tests/bench/bench_api.sh
set -eu

BUILD=${ORCH_BUILD:-build}
DUR=${BENCH_SECONDS:-3}
RUNS=${BENCH_RUNS:-5}
CONNS=32
if ! command -v wrk >/dev/null 2>&1; then
    echo "bench_api: wrk not installed, skipped" >&2
    exit 0
fi
SRV_PIN=
WRK_PIN=
if [ "${BENCH_PIN:-0}" = 1 ]; then
    SRV_PIN="taskset -c 0"
    WRK_PIN="taskset -c 1"
fi
tmp=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# start DB: runs orchestratord on a free port, sets $pid and $url.
start() {
    printf 'listen = "127.0.0.1:0";\nlog_level = "warn";\n' >"$tmp/conf"
    printf 'limits = { max_connections = 4096; };\n' >>"$tmp/conf"
    $SRV_PIN "$BUILD/bin/orchestratord" -f "$tmp/conf" --db "$1" \
        2>"$tmp/log" &
    pid=$!
    # The port is only logged at info level: find it from /proc instead.
    port=
    for _ in $(seq 1 100); do
        port=$(ss -Hltnp 2>/dev/null | grep "pid=$pid," |
            sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' | head -1)
        [ -n "$port" ] && break
        sleep 0.1
    done
    [ -n "$port" ] || { echo "bench_api: daemon did not start" >&2; cat "$tmp/log" >&2; exit 1; }
    url="http://127.0.0.1:$port"
}

stop() {
    kill "$pid"
    wait "$pid" || true
    pid=
}

# check_out NAME FILE: fail the benchmark if wrk's output FILE counts an
# answer that is not 2xx or a socket error: such a round measures errors.
check_out() {
    if grep -q -e "Non-2xx" -e "Socket errors" "$2"; then
        echo "bench_api: FAILED: $1 requests failed, no figure:" >&2
        grep -e "Non-2xx" -e "Socket errors" "$2" >&2
        case $1 in post*)
            echo "bench_api: (out of prepared VMIs? raise BENCH_POST_VMIS," \
                "now $POST_VMIS a round)" >&2 ;;
        esac
        exit 1
    fi
}

# The server's CPU time so far, in clock ticks (utime + stime).
ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
HZ=$(getconf CLK_TCK)

# wrk_run NAME URL [SCRIPT ARG]: one run (with a Lua SCRIPT given ARG) on
# $C connections ($CONNS unless set); appends its req/s to NAME.rps, the
# server's CPU time per request (us) to NAME.cpu, the p99 latency (ms) to
# NAME.p99.
wrk_run() {
    name=$1
    target=$2
    t0=$(ticks)
    if [ $# -gt 2 ]; then
        $WRK_PIN wrk -t1 -c"${C:-$CONNS}" -d"${DUR}s" --latency -s "$3" \
            "$target" -- "$4" >"$tmp/$name.out"
    else
        $WRK_PIN wrk -t1 -c"${C:-$CONNS}" -d"${DUR}s" --latency "$target" \
            >"$tmp/$name.out"
    fi
    t1=$(ticks)
    check_out "$name" "$tmp/$name.out"
    sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$tmp/$name.out" \
        >>"$tmp/$name.rps"
    n=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$tmp/$name.out")
    awk -v t="$((t1 - t0))" -v n="$n" -v hz="$HZ" \
        'BEGIN { printf "%.1f\n", n ? t * 1e6 / hz / n : 0 }' >>"$tmp/$name.cpu"
    awk '/^ *99%/ { v=$2; if (v ~ /us$/) { sub(/us/,"",v); v=v/1000 }
        else if (v ~ /ms$/) { sub(/ms/,"",v) }
        else if (v ~ /s$/) { sub(/s/,"",v); v=v*1000 }
        printf "%.2f\n", v }' "$tmp/$name.out" >>"$tmp/$name.p99"
}

median() { sort -n "$1" | awk '{ v[NR] = $1 } END {
    if (NR % 2) printf "%s", v[(NR + 1) / 2];
    else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# 10000 VMIMs (finished) and POST_VMIS VMIs for each POST round.
POST_VMIS=${BENCH_POST_VMIS:-$((20000 * DUR))}
NVMI=$((POST_VMIS * RUNS))
"$BUILD/bench/bench_api_fill" "$tmp/a.db" 10000 $NVMI
start "$tmp/a.db"
ns="$url/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstancemigrations"

cat >"$tmp/post.lua" <<'LUA'
-- POST a new VMIM for VMI first, first+1, ...: never one with a migration
-- in flight.  Each round starts at its own first (wrk ... -- FIRST).
local counter = 0
local first = 0
function init(args)
    first = tonumber(args[1]) or 0
end
function request()
    local i = first + counter
    counter = counter + 1
    local body = string.format(
        '{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstanceMigration",' ..
        '"metadata":{"name":"bench-%d"},"spec":{"vmiName":"vmi-%d"}}', i, i)
    return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
LUA

# Warm up (page cache, statement cache), then the rounds.
wrk -t1 -c8 -d1s "$ns/mig-4242" >/dev/null
for run in $(seq 1 "$RUNS"); do
    wrk_run healthz "$url/healthz"
    wrk_run get "$ns/mig-4242"
    wrk_run post "$ns" "$tmp/post.lua" $(((run - 1) * POST_VMIS))
done
stop

# Memory with 100000 migration records.
"$BUILD/bench/bench_api_fill" "$tmp/b.db" 100000 1000
start "$tmp/b.db"
ns="$url/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstancemigrations"
cont=
for _ in $(seq 1 20); do
    curl -sf "$ns?limit=500${cont:+&continue=$cont}" >"$tmp/page.json"
    cont=$(sed -n 's/.*"continue":"\([^"]*\)".*/\1/p' "$tmp/page.json" | head -1)
done
curl -sf "$ns?labelSelector=kubevirt.io/vmi-name%3Dvmi-7" >/dev/null
wrk -t1 -c$CONNS -d2s "$ns/mig-77777" >/dev/null
rss=$(awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")

# Lists with selectors at 100000 VMIMs: the vmi-name label (an index), and
# /healthz while 4 clients list with selectors no index serves: each of
# their requests reads at most ORCH_LIST_MAX_SCAN records and ends its page
# with a continue token, so none holds the event loop for long.  What one
# such request costs the server (api_list_unindexed_*_cpu_us) is measured
# alone, one connection, before.
sel="$ns?labelSelector=kubevirt.io%2Fvmi-name%3Dvmi-5"
test "$(curl -sf "$sel" | grep -o '"name":"mig-[0-9]*"' | tr '\n' ' ')" = \
    '"name":"mig-5" ' || { echo "bench_api: FAILED: $sel" >&2; exit 1; }
unindexed_label="$ns?labelSelector=app%3Dnone"
unindexed_field="$ns?fieldSelector=status.nodeName%3Dnode9"
for run in $(seq 1 "$RUNS"); do
    wrk_run selector "$sel"
    C=1
    wrk_run scan_label "$unindexed_label"
    wrk_run scan_field "$unindexed_field"
    $WRK_PIN wrk -t1 -c2 -d"$((DUR + 2))s" "$unindexed_label" \
        >"$tmp/scans_label.out" &
    scan1=$!
    $WRK_PIN wrk -t1 -c2 -d"$((DUR + 2))s" "$unindexed_field" \
        >"$tmp/scans_field.out" &
    scan2=$!
    sleep 1
    C=4
    wrk_run healthz_scans "$url/healthz"
    C=
    wait "$scan1" "$scan2"
    check_out scans_label "$tmp/scans_label.out"
    check_out scans_field "$tmp/scans_field.out"
done
stop

echo "bench: api_get_rps $(median "$tmp/get.rps") req/s"
echo "bench: api_post_rps $(median "$tmp/post.rps") req/s"
echo "bench: api_p99_ms $(median "$tmp/get.p99") ms"
echo "bench: api_rss_mib $rss MiB"
echo "bench: api_list_selector_p99_ms $(median "$tmp/selector.p99") ms"
echo "bench: api_healthz_p99_ms_under_scans $(median "$tmp/healthz_scans.p99") ms"
echo "bench: api_healthz_rps $(median "$tmp/healthz.rps") req/s"
echo "bench: api_get_cpu_us $(median "$tmp/get.cpu") us"
echo "bench: api_post_cpu_us $(median "$tmp/post.cpu") us"
echo "bench: api_healthz_cpu_us $(median "$tmp/healthz.cpu") us"
echo "bench: api_list_selector_cpu_us $(median "$tmp/selector.cpu") us"
echo "bench: api_list_unindexed_label_cpu_us $(median "$tmp/scan_label.cpu") us"
echo "bench: api_list_unindexed_field_cpu_us $(median "$tmp/scan_field.cpu") us"
for f in healthz get post selector healthz_scans; do
    echo "bench_api: $f rounds, req/s: $(tr '\n' ' ' <"$tmp/$f.rps")"
done
for f in get selector healthz_scans; do
    echo "bench_api: $f rounds, p99 ms: $(tr '\n' ' ' <"$tmp/$f.p99")"
done
echo "bench_api: medians of $RUNS rounds of ${DUR} s each, wrk -t1 -c$CONNS;" \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)"
