#!/bin/sh
# REST API benchmark (issue 4): orchestratord on loopback with a temporary
# database, measured with wrk.
#   api_get_rps  GET of one VMIM, server holding 10000 VMIMs
#   api_post_rps POST of new VMIMs (each for a VMI without one in flight)
#   api_p99_ms   99th percentile latency of the GET run
#   api_rss_mib  orchestratord's VmRSS holding 100000 migration records after
#                a list and get workload
# Run with `make bench`, or: ORCH_BUILD=build sh tests/bench/bench_api.sh
set -eu

BUILD=${ORCH_BUILD:-build}
DUR=${BENCH_SECONDS:-5}
if ! command -v wrk >/dev/null 2>&1; then
    echo "bench_api: wrk not installed, skipped" >&2
    exit 0
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
    "$BUILD/bin/orchestratord" -f "$tmp/conf" --db "$1" \
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

rps() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$1"; }

# 10000 VMIMs (finished) and 60000 VMIs for the POST run.
"$BUILD/bench/bench_api_fill" "$tmp/a.db" 10000 60000
start "$tmp/a.db"
ns="$url/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstancemigrations"

wrk -t2 -c32 -d"${DUR}s" --latency "$ns/mig-4242" >"$tmp/get.out"
get=$(rps "$tmp/get.out")
p99=$(awk '/^ *99%/ { v=$2; if (v ~ /us$/) { sub(/us/,"",v); v=v/1000 }
    else if (v ~ /ms$/) { sub(/ms/,"",v) } else if (v ~ /s$/) { sub(/s/,"",v); v=v*1000 }
    printf "%.2f", v }' "$tmp/get.out")

cat >"$tmp/post.lua" <<'LUA'
local counter = 0
local threads = {}
function setup(thread)
    thread:set("tid", #threads)
    table.insert(threads, thread)
end
function request()
    -- Thread t uses VMIs t, t+2, t+4, ...: never one with a migration in
    -- flight.
    local i = counter * 2 + tid
    counter = counter + 1
    local body = string.format(
        '{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstanceMigration",' ..
        '"metadata":{"name":"bench-%d"},"spec":{"vmiName":"vmi-%d"}}', i, i)
    return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
LUA
wrk -t2 -c16 -d"${DUR}s" -s "$tmp/post.lua" "$ns" >"$tmp/post.out"
post=$(rps "$tmp/post.out")
if grep -q "Non-2xx" "$tmp/post.out"; then
    echo "bench_api: some POSTs failed:" >&2
    grep "Non-2xx" "$tmp/post.out" >&2
fi
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
wrk -t2 -c32 -d2s "$ns/mig-77777" >/dev/null
rss=$(awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")
stop

echo "bench: api_get_rps $get req/s"
echo "bench: api_post_rps $post req/s"
echo "bench: api_p99_ms $p99 ms"
echo "bench: api_rss_mib $rss MiB"
