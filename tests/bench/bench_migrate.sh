#!/bin/bash
# Migration benchmark (issue 9, "Performance"; make bench-migrate, not part
# of make bench): the orchestrated migration beside raw virsh on the lab, in
# one run with the same guest.  Two lab hosts with their migrators,
# orchestratord on the lab bridge, the test guest (192 MiB) started on
# host-a.  BENCH_MIGRATE_ROUNDS (5) rounds, each one orchestrated migration
# (a VMIM POSTed with curl, the VMIM polled until Succeeded) and one raw
# `virsh migrate --live --p2p --persistent --undefinesource` (lab_migrate_raw),
# the order swapped every round, so the guest goes back and forth host-a <->
# host-b and each kind goes both ways.  Pings every 10 ms from the root
# namespace during each migration.
#   migrate_wall_ratio         median(POST -> Succeeded seen through the API)
#                              / median(raw virsh migrate wall time) (goal <= 1.10)
#   control_overhead_start_ms  median(POST -> libvirt job running on the
#                              source), found by a loop of `virsh domjobinfo`
#                              on the source (goal <= 100)
#   control_overhead_end_ms    median(the source's job-completed event, as
#                              `virsh event --timestamp` shows it -> Succeeded
#                              seen through the API) (goal <= 100)
#   downtime_ms_raw/_orch      median of libvirt's downtime from the
#                              source's job-completed event
#   ping_loss_raw/_orch        median pings lost across the switch-over
# Baselines from the same run: migrate_wall_ms_orch / _raw (the medians),
# bench_poll_ms (one GET + jq of the VMIM, the resolution of "Succeeded
# seen") and jobinfo_poll_ms (one virsh domjobinfo, the resolution of "job
# running").  Each round's figures go to stderr.
#
# Needs root and the lab (like make e2e); without root it says so and prints
# nothing.  Alone: ORCH_BUILD=build bash tests/bench/bench_migrate.sh
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
export ORCH_TOP=${ORCH_TOP:-$(cd "$here/../.." && pwd)}
export ORCH_BUILD=${ORCH_BUILD:-$ORCH_TOP/build}
if [ "$(id -u)" -ne 0 ]; then
    echo "bench_migrate: needs root (the lab); skipped" >&2
    exit 0
fi
# shellcheck source=scripts/lablib.sh
. "$ORCH_TOP/scripts/lablib.sh"
lab_lock_reexec "$0" "$@"

rounds=${BENCH_MIGRATE_ROUNDS:-5}
dom=bench-mig
addr=198.18.0.61
work=$ORCH_BUILD/bench/migrate.work
api=$(lab_orchd_url)
ns_path=/apis/kubevirt.io/v1/namespaces/default
pids=()
bg=()
cleanup() {
    [ ${#bg[@]} -eq 0 ] || kill "${bg[@]}" 2>/dev/null || true
    [ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null || true
    # The hosts' logs outlive the lab, for a look at where the time went.
    for h in host-a host-b; do
        cp "$(lab_host_dir "$h")/log/migrator.log" "$work/migrator-$h.log" 2>/dev/null || true
        cp "$(lab_host_dir "$h")/log/libvirtd.log" "$work/libvirtd-$h.log" 2>/dev/null || true
    done
    lab_down >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

die() {
    echo "bench_migrate: $*" >&2
    exit 1
}
now_ms() { date +%s%3N; }
# The drain is measured last: its failure leaves the figures above printed.
drain_fail() {
    echo "bench_migrate: drain: $*; no drain figure" >&2
    exit 1
}
field() { # PATH JQ -> value or nothing
    lab_api_get "$1" 2>/dev/null | jq -r "$2 // empty" 2>/dev/null || true
}
other() { if [ "$1" = host-a ]; then echo host-b; else echo host-a; fi; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
# Pings sent and lost between the first and the last answered, as
# lab_migrate_raw counts them.
ping_loss() { # FILE -> "SENT LOST"
    sed -n 's/.*icmp_seq=\([0-9][0-9]*\) .*time=.*/\1/p' "$1" | sort -n -u |
        awk 'NR == 1 { lo = $1 } { hi = $1; n++ }
             END { if (n) print hi - lo + 1, hi - lo + 1 - n; else print 0, 0 }'
}
# wait_nodename HOST: until the VMI shows on HOST through the API.
wait_nodename() {
    local i
    for i in $(seq 300); do
        [ "$(field "$ns_path/virtualmachineinstances/$dom" .status.nodeName)" = "$1" ] && return 0
        sleep 0.1
    done
    return 1
}

rm -rf "$work"
mkdir -p "$work"
lab_down >/dev/null 2>&1
lab_up 2 >/dev/null 2>&1
lab_guest_build >/dev/null 2>&1
lab_orchd_conf "$work" host-a host-b
# BENCH_MIGRATE_MAX_DOWNTIME_MS: orchestratord's migrations.max_downtime_ms
# (default 900, as KubeVirt's; raw virsh leaves QEMU's 300).
if [ -n "${BENCH_MIGRATE_MAX_DOWNTIME_MS:-}" ]; then
    sed -i "s/disable_tls = true;/& max_downtime_ms = $BENCH_MIGRATE_MAX_DOWNTIME_MS;/" \
        "$work/orchestratord.conf"
fi
lab_orchd_start "$work" || die "orchestratord does not start"
pids+=("$LAB_STARTED_PID")
for h in host-a host-b; do
    lab_migrator_start "$h" 2
    pids+=("$LAB_STARTED_PID")
done
lab_guest_start host-a "$dom" "$addr"
lab_wait_ping "$addr" 60 || die "$dom does not answer ping"
wait_nodename host-a || die "VMI $dom never on host-a"
for h in host-a host-b; do
    for i in $(seq 100); do
        [ "$(field "/api/v1/nodes/$h" '.status.conditions[]? | select(.type == "Ready") | .status')" = True ] && break
        sleep 0.1
    done
done
sleep 2

# One orchestrated migration SRC -> DST as VMIM NAME: sets O_WALL_MS,
# O_START_MS, O_END_MS, O_DOWNTIME_MS, O_LOST.
orch_migrate() { # NAME SRC DST
    local name=$1 src=$2 dst=$3 d=$work/$1 uri ev_pid ping_pid poll_pid t0 t1 code p ev
    mkdir -p "$d"
    uri=$(lab_host_uri "$src")
    virsh -c "$uri" event --domain "$dom" --event job-completed --timestamp \
        --timeout 300 >"$d/event" 2>&1 &
    ev_pid=$!
    ping -n -i 0.01 -W 1 "$addr" >"$d/ping" 2>&1 &
    ping_pid=$!
    # The job on the source: each domjobinfo's start and end time, the first
    # one that sees a job running ends the loop.
    (
        while :; do
            a=$(now_ms)
            out=$(virsh -c "$uri" domjobinfo "$dom" 2>/dev/null || true)
            b=$(now_ms)
            echo "$a $b" >>"$d/jobpolls"
            case $out in *Unbounded* | *Bounded*)
                echo "$a $b" >"$d/jobstart"
                exit 0
                ;;
            esac
        done
    ) &
    poll_pid=$!
    bg=("$ev_pid" "$ping_pid" "$poll_pid")
    sleep 0.5
    printf '{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstanceMigration","metadata":{"name":"%s"},"spec":{"vmiName":"%s"}}\n' \
        "$name" "$dom" >"$d/vmim.json"
    t0=$(now_ms)
    code=$(curl -s -o "$d/post.out" -w '%{http_code}' --max-time 10 -X POST \
        -H "Authorization: Bearer $LAB_ADMIN_TOKEN" -H "Content-Type: application/json" \
        --data-binary @"$d/vmim.json" "$api$ns_path/virtualmachineinstancemigrations")
    [ "$code" = 201 ] || die "POST $name: $code $(head -c 300 "$d/post.out")"
    while :; do
        p=$(field "$ns_path/virtualmachineinstancemigrations/$name" .status.phase)
        t1=$(now_ms)
        case $p in
        Succeeded) break ;;
        Failed) die "$name Failed: $(lab_api_get "$ns_path/virtualmachineinstancemigrations/$name")" ;;
        esac
        [ $((t1 - t0)) -lt 300000 ] || die "$name not final after 300 s (phase $p)"
        sleep 0.002
    done
    sleep 1
    kill -INT "$ping_pid" 2>/dev/null || true
    wait "$ping_pid" 2>/dev/null || true
    for i in $(seq 50); do
        grep -q "job-completed" "$d/event" 2>/dev/null && break
        sleep 0.1
    done
    kill "$ev_pid" "$poll_pid" 2>/dev/null || true
    wait "$ev_pid" "$poll_pid" 2>/dev/null || true
    bg=()
    lab_api_get "$ns_path/virtualmachineinstancemigrations/$name" >"$d/vmim.out" || true
    O_WALL_MS=$((t1 - t0))
    # The job seen running: between the previous domjobinfo's start and the
    # end of the one that saw it; the middle of that.
    if [ -s "$d/jobstart" ]; then
        O_START_MS=$(tail -2 "$d/jobpolls" | awk -v t0="$t0" '
            NR == 1 { prev = $1 } { a = $1; b = $2 }
            END { if (NR < 2) prev = a; printf "%d", (prev + b) / 2 - t0 }')
    else
        O_START_MS=
    fi
    ev=$(sed -n "s/^\([0-9-]* [0-9:.]*\)[+]0000: event 'job-completed'.*/\1/p" "$d/event" | head -1)
    if [ -n "$ev" ]; then
        O_END_MS=$((t1 - $(date -u -d "$ev" +%s%3N)))
    else
        O_END_MS=
    fi
    O_DOWNTIME_MS=$(sed -n 's/^[[:space:]]*downtime: \([0-9]*\)$/\1/p' "$d/event" | head -1)
    O_ELAPSED_MS=$(sed -n 's/^[[:space:]]*time_elapsed: \([0-9]*\)$/\1/p' "$d/event" | head -1)
    read -r _ O_LOST < <(ping_loss "$d/ping")
}

jobinfo_poll=$(
    uri=$(lab_host_uri host-a)
    a=$(now_ms)
    for i in $(seq 10); do virsh -c "$uri" domjobinfo "$dom" >/dev/null 2>&1 || true; done
    echo $((($(now_ms) - a) / 10))
)

cur=host-a
o_wall=() o_start=() o_end=() o_down=() o_lost=()
r_wall=() r_down=() r_lost=()
for r in $(seq "$rounds"); do
    if [ $((r % 2)) -eq 1 ]; then order="orch raw"; else order="raw orch"; fi
    for kind in $order; do
        to=$(other "$cur")
        if [ "$kind" = orch ]; then
            orch_migrate "bench-mig-$r" "$cur" "$to"
            echo "bench_migrate: round $r orch $cur->$to wall ${O_WALL_MS} ms, start ${O_START_MS:-?} ms, end ${O_END_MS:-?} ms, downtime ${O_DOWNTIME_MS:-?} ms, libvirt job ${O_ELAPSED_MS:-?} ms, lost $O_LOST" >&2
            o_wall+=("$O_WALL_MS")
            [ -z "$O_START_MS" ] || o_start+=("$O_START_MS")
            [ -z "$O_END_MS" ] || o_end+=("$O_END_MS")
            [ -z "$O_DOWNTIME_MS" ] || o_down+=("$O_DOWNTIME_MS")
            o_lost+=("$O_LOST")
        else
            # The same load as the orchestrated round's polling of the
            # VMIM, so that both kinds share the machine alike.
            (while :; do
                field "$ns_path/virtualmachineinstancemigrations/bench-mig-1" .status.phase >/dev/null
                sleep 0.002
            done) &
            bg=("$!")
            lab_migrate_raw "$cur" "$to" "$dom" "$addr" || die "raw migration $cur->$to failed"
            kill "${bg[@]}" 2>/dev/null || true
            wait "${bg[@]}" 2>/dev/null || true
            bg=()
            ms=$(awk -v s="$LAB_MIG_SECONDS" 'BEGIN { printf "%d", s * 1000 }')
            echo "bench_migrate: round $r raw $cur->$to wall $ms ms, downtime ${LAB_MIG_DOWNTIME_MS:-?} ms, libvirt job ${LAB_MIG_ELAPSED_MS:-?} ms, lost $LAB_MIG_PINGS_LOST" >&2
            r_wall+=("$ms")
            [ -z "$LAB_MIG_DOWNTIME_MS" ] || r_down+=("$LAB_MIG_DOWNTIME_MS")
            r_lost+=("$LAB_MIG_PINGS_LOST")
        fi
        [ "$(lab_dom_state "$to" "$dom")" = running ] || die "$dom not running on $to"
        [ -z "$(lab_dom_state "$cur" "$dom")" ] || die "$dom still defined on $cur"
        wait_nodename "$to" || die "VMI $dom never shows on $to"
        cur=$to
        sleep 1
    done
done
lab_ping "$addr" 5 || die "$dom does not answer pings at the end"
lab_console_monotonic "$dom" || die "the guest's console counter restarted"

t0=$(now_ms)
for i in $(seq 20); do field "$ns_path/virtualmachineinstancemigrations/bench-mig-1" .status.phase >/dev/null; done
poll=$(awk -v a="$t0" -v b="$(now_ms)" 'BEGIN { printf "%.1f", (b - a) / 20 }')

mo=$(printf '%s\n' "${o_wall[@]}" | median)
mr=$(printf '%s\n' "${r_wall[@]}" | median)
echo "bench_migrate: orch wall ${o_wall[*]} ms; raw wall ${r_wall[*]} ms" >&2
echo "bench_migrate: start ${o_start[*]:-} ms; end ${o_end[*]:-} ms" >&2
echo "bench_migrate: downtime orch ${o_down[*]:-} raw ${r_down[*]:-} ms; lost orch ${o_lost[*]} raw ${r_lost[*]}" >&2
awk -v o="$mo" -v r="$mr" 'BEGIN { printf "bench: migrate_wall_ratio %.2f ratio\n", o / r }'
echo "bench: migrate_wall_ms_orch $mo ms"
echo "bench: migrate_wall_ms_raw $mr ms"
[ ${#o_start[@]} -eq 0 ] || echo "bench: control_overhead_start_ms $(printf '%s\n' "${o_start[@]}" | median) ms"
[ ${#o_end[@]} -eq 0 ] || echo "bench: control_overhead_end_ms $(printf '%s\n' "${o_end[@]}" | median) ms"
[ ${#r_down[@]} -eq 0 ] || echo "bench: downtime_ms_raw $(printf '%s\n' "${r_down[@]}" | median) ms"
[ ${#o_down[@]} -eq 0 ] || echo "bench: downtime_ms_orch $(printf '%s\n' "${o_down[@]}" | median) ms"
echo "bench: ping_loss_raw $(printf '%s\n' "${r_lost[@]}" | median) pings"
echo "bench: ping_loss_orch $(printf '%s\n' "${o_lost[@]}" | median) pings"
echo "bench: bench_poll_ms $poll ms"
echo "bench: jobinfo_poll_ms $jobinfo_poll ms"
# Drain (BENCH_MIGRATE_DRAIN guests, 0 to leave it out): that many more
# test guests started on host-a, moved to host-b by a sequential loop of raw
# virsh migrations, then back by `orchctl drain host-b`.
#   drain10_wall_ratio (drainN_wall_ratio)  drain wall time / the loop's
drain_n=${BENCH_MIGRATE_DRAIN:-10}
if [ "$drain_n" -gt 0 ]; then
    for i in $(seq "$drain_n"); do
        lab_guest_start host-a "bench-d$i" "198.18.0.$((70 + i))"
    done
    for i in $(seq "$drain_n"); do
        lab_wait_ping "198.18.0.$((70 + i))" 120 || drain_fail "bench-d$i does not answer ping"
    done
    sleep 2
    t0=$(now_ms)
    for i in $(seq "$drain_n"); do
        virsh -c "$(lab_host_uri host-a)" migrate --live --p2p --persistent \
            --undefinesource "bench-d$i" "$(lab_host_uri host-b)" >/dev/null ||
            drain_fail "raw migration of bench-d$i failed"
    done
    seq_ms=$(($(now_ms) - t0))
    for i in $(seq "$drain_n"); do
        for _ in $(seq 300); do
            [ "$(field "$ns_path/virtualmachineinstances/bench-d$i" .status.nodeName)" = host-b ] && break
            sleep 0.1
        done
    done
    sleep 2
    t0=$(now_ms)
    "$ORCH_BUILD/bin/orchctl" -s "$api" --token "$LAB_ADMIN_TOKEN" drain host-b \
        --timeout 10m >"$work/drain.out" 2>&1 || drain_fail "orchctl drain failed: $(tail -5 "$work/drain.out")"
    drain_ms=$(($(now_ms) - t0))
    for i in $(seq "$drain_n"); do
        [ "$(lab_dom_state host-a "bench-d$i")" = running ] || drain_fail "bench-d$i not running on host-a after the drain"
    done
    echo "bench_migrate: $drain_n guests: sequential virsh loop $seq_ms ms, orchctl drain $drain_ms ms" >&2
fi

if [ "$drain_n" -gt 0 ]; then
    awk -v d="$drain_ms" -v s="$seq_ms" -v n="$drain_n" \
        'BEGIN { printf "bench: drain%d_wall_ratio %.2f ratio\n", n, d / s }'
    echo "bench: drain${drain_n}_wall_ms $drain_ms ms"
    echo "bench: drain${drain_n}_seq_virsh_ms $seq_ms ms"
fi
