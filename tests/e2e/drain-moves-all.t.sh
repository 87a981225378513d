#!/bin/bash
# drain-moves-all: three small guests run on host-a; `orchctl drain host-a`
# cordons it and moves all three to host-b through VMIMs, at most
# parallel_outbound_migrations_per_node (2) of them Running at once (VMIM
# phases sampled every 0.1 s while it drains).  host-a ends Ready but
# SchedulingDisabled, and every guest runs on host-b only, answers pings and
# its console counter never restarted.
# shellcheck source=tests/e2e/lib.sh
. "$ORCH_TOP/tests/e2e/lib.sh"
# shellcheck source=tests/e2e/miglib.sh
. "$ORCH_TOP/tests/e2e/miglib.sh"

vmis=(vm-drain-1 vm-drain-2 vm-drain-3)
addrs=(198.18.0.54 198.18.0.55 198.18.0.56)
orchctl=$ORCH_BUILD/bin/orchctl
mig_setup host-a host-b
free_kib=$(awk '/MemAvailable/ { print $2 }' /proc/meminfo)
e2e_check "the machine has room for three ${LAB_GUEST_MEMORY_MIB} MiB guests (MemAvailable $((free_kib / 1024)) MiB)" \
    [ "$free_kib" -gt $((3 * LAB_GUEST_MEMORY_MIB * 1024 + 512 * 1024)) ]
for i in 0 1 2; do
    guest_up host-a "${vmis[$i]}" "${addrs[$i]}"
done
declare -A before
for i in 0 1 2; do before[${vmis[$i]}]=$(lab_console_last "${vmis[$i]}"); done

e2e_step "orchctl drain host-a"
(
    while :; do
        lab_api_get "$vmims" 2>/dev/null |
            jq -r '[.items[] | select(.status.phase == "Running") | .metadata.name] | "\(length) \(join(","))"' 2>/dev/null || true
        sleep 0.1
    done
) >"$work/running-samples" &
sampler=$!
e2e_pids+=("$sampler")
for i in 0 1 2; do
    ping -n -i 0.1 -W 1 "${addrs[$i]}" >"$work/ping-${vmis[$i]}" 2>&1 &
    e2e_pids+=($!)
done
t0=$(date +%s.%N)
rc=0
"$orchctl" drain host-a --timeout 5m >"$work/drain.out" 2>&1 || rc=$?
t1=$(date +%s.%N)
kill "$sampler" 2>/dev/null || true
sed 's/^/orchctl: /' "$work/drain.out"
e2e_note "drain took $(echo "$t1 - $t0" | bc) s"
e2e_check "orchctl drain exits 0 (got $rc)" [ "$rc" = 0 ]
e2e_check "it says three VMs migrated" grep -q 'node host-a drained: 3 VMs migrated' "$work/drain.out"
sleep 0.5
for p in "${e2e_pids[@]:(-3)}"; do kill -INT "$p" 2>/dev/null || true; done

e2e_step "the record"
lab_api_get "$vmims" | jq -r '.items[] | "\(.metadata.name) \(.spec.vmiName) \(.status.phase) \(.status.migrationState.sourceNode)->\(.status.migrationState.targetNode)"'
max=$(awk '$1 > m { m = $1 } END { print m + 0 }' "$work/running-samples")
e2e_note "samples: $(wc -l <"$work/running-samples"), at most $max Running at once ($(sort -u "$work/running-samples" | tr '\n' ';'))"
e2e_check "some migration was seen Running" [ "$max" -ge 1 ]
e2e_check "never more than 2 Running at once" [ "$max" -le 2 ]
for v in "${vmis[@]}"; do
    e2e_check "one VMIM of $v Succeeded host-a -> host-b" \
        jq -e --arg v "$v" '[.items[] | select(.spec.vmiName == $v and .status.phase == "Succeeded" and .status.migrationState.sourceNode == "host-a" and .status.migrationState.targetNode == "host-b")] | length == 1' \
        <<<"$(lab_api_get "$vmims")"
done
node=$("$orchctl" get nodes 2>&1 || true)
e2e_note "$node"
e2e_check "host-a is Ready,SchedulingDisabled" grep -Eq '^host-a +Ready,SchedulingDisabled ' <<<"$node"
e2e_check "host-a is unschedulable in the API" \
    [ "$(field /api/v1/nodes/host-a .spec.unschedulable)" = true ]

e2e_step "every guest on host-b"
for i in 0 1 2; do
    v=${vmis[$i]}
    e2e_note "$v pings: $(grep 'packets transmitted' "$work/ping-$v" || true)"
    check_guest "$v" "${addrs[$i]}" host-b "${before[$v]}"
    e2e_check "VMI $v's nodeName is host-b" wait_nodename "$v" host-b 5
done
