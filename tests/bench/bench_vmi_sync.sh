#!/bin/bash
# VMI sync benchmark (issue 8): how long a libvirt lifecycle change on a lab
# host takes to show through orchestratord's API.  One lab host with its
# migrator (reporting every 10 s, so only the lifecycle-event path counts),
# orchestratord on the lab bridge; the test guest is started and destroyed
# with virsh VMI_SYNC_CHANGES (20) times, and after each virsh command
# returns the VMI is polled every 5 ms until its phase is the new one
# (Running, then Failed: the guest has ACPI, as KubeVirt says).
#   vmi_sync_p99_ms     the 99th percentile (the largest of 20) (goal <= 300)
#   vmi_sync_median_ms  the median
# A baseline from the same run: vmi_sync_poll_ms, one GET of the VMI (the
# polling's own resolution).
#
# Needs root and the lab (like make e2e); without root it says so and
# prints nothing.  Alone: ORCH_BUILD=build bash tests/bench/bench_vmi_sync.sh
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
export ORCH_TOP=${ORCH_TOP:-$(cd "$here/../.." && pwd)}
export ORCH_BUILD=${ORCH_BUILD:-$ORCH_TOP/build}
if [ "$(id -u)" -ne 0 ]; then
    echo "bench_vmi_sync: needs root (the lab); skipped" >&2
    exit 0
fi
# shellcheck source=scripts/lablib.sh
. "$ORCH_TOP/scripts/lablib.sh"
lab_lock_reexec "$0" "$@"

changes=${VMI_SYNC_CHANGES:-20}
dom=bench-sync
addr=198.18.0.60
work=$ORCH_BUILD/bench/vmi-sync.work
pids=()
cleanup() {
    [ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null || true
    lab_down >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

rm -rf "$work"
lab_down >/dev/null 2>&1
lab_up 1 >/dev/null 2>&1
lab_guest_build >/dev/null 2>&1
lab_orchd_conf "$work" host-a
lab_orchd_start "$work"
pids+=("$LAB_STARTED_PID")
lab_migrator_start host-a 10
pids+=("$LAB_STARTED_PID")

vmi=/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstances/$dom
phase() { lab_api_get "$vmi" 2>/dev/null | jq -r '.status.phase // empty' 2>/dev/null || true; }
now_ms() { date +%s%3N; }
# wait_phase WANT: milliseconds from now until the VMI shows WANT (fails
# after 10 s).
wait_phase() {
    local t0 t
    t0=$(now_ms)
    while [ "$(phase)" != "$1" ]; do
        t=$(now_ms)
        [ $((t - t0)) -lt 10000 ] || return 1
        sleep 0.005
    done
    echo $(($(now_ms) - t0))
}

uri=$(lab_host_uri host-a)
lab_guest_xml "$dom" "$addr" >"$work/$dom.xml"
virsh -q -c "$uri" define "$work/$dom.xml" >/dev/null
samples=()
for i in $(seq "$changes"); do
    if [ $((i % 2)) -eq 1 ]; then
        virsh -q -c "$uri" start "$dom" >/dev/null
        ms=$(wait_phase Running) || { echo "bench_vmi_sync: VMI never Running" >&2; exit 1; }
    else
        virsh -q -c "$uri" destroy "$dom" >/dev/null
        ms=$(wait_phase Failed) || { echo "bench_vmi_sync: VMI never Failed" >&2; exit 1; }
    fi
    samples+=("$ms")
done
t0=$(now_ms)
for i in $(seq 20); do phase >/dev/null; done
poll=$(awk -v a="$t0" -v b="$(now_ms)" 'BEGIN { printf "%.1f", (b - a) / 20 }')

echo "bench_vmi_sync: ${samples[*]} ms" >&2
printf '%s\n' "${samples[@]}" | sort -n | awk -v n="$changes" '
    { v[NR] = $1 }
    END {
        i = int(0.99 * n + 0.999999); if (i < 1) i = 1; if (i > n) i = n
        printf "bench: vmi_sync_p99_ms %d ms\n", v[i]
        printf "bench: vmi_sync_median_ms %d ms\n", v[int((n + 1) / 2)]
    }'
echo "bench: vmi_sync_poll_ms $poll ms"
