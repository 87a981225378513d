#!/bin/bash
# hosts-join: migrators on three lab hosts report to one orchestratord, and
# every libvirt domain on them is a VMI.  orchestratord runs in the root
# namespace on the lab bridge with an admin token and one node token per host;
# a migrator on each host pushes its inventory.  Checked through the REST API:
# all three nodes Ready within 5 s; a domain started by hand with virsh shows
# as a Running VMI on its host within 1 s; a migration by hand moves the VMI's
# nodeName; virsh destroy turns it Failed (the guest has ACPI, as KubeVirt
# says); a killed migrator turns its node Unknown after the grace period and
# Ready again once restarted; a restarted orchestratord comes back to the same
# nodes and VMIs; a node credential cannot act for another host.
# shellcheck source=tests/e2e/lib.sh
. "$ORCH_TOP/tests/e2e/lib.sh"

dom=hj-guest
addr=198.18.0.52
api=$(lab_orchd_url)
admin=$LAB_ADMIN_TOKEN
grace=3
interval=2
hosts="host-a host-b host-c"

# get PATH [TOKEN]: GET from orchestratord as admin (or TOKEN); fails on an
# HTTP error.
get() {
    curl -sf --max-time 5 -H "Authorization: Bearer ${2:-$admin}" "$api$1"
}
vmi_path=/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstances
node_ready() { # NODE -> True|False|Unknown or nothing
    get "/api/v1/nodes/$1" 2>/dev/null |
        jq -r '.status.conditions[]? | select(.type == "Ready") | .status' 2>/dev/null || true
}
vmi_field() { # NAME JQ-PATH -> value or nothing
    get "$vmi_path/$1" 2>/dev/null | jq -r "$2 // empty" 2>/dev/null || true
}
# wait_for SECONDS CMD...: poll CMD every 50 ms until it succeeds; prints the
# seconds it took.
wait_for() {
    local limit=$1 t0 now
    shift
    t0=$(date +%s.%N)
    while :; do
        if "$@"; then
            awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f\n", b - a }'
            return 0
        fi
        now=$(date +%s.%N)
        awk -v a="$t0" -v b="$now" -v l="$limit" 'BEGIN { exit !(b - a > l) }' && return 1
        sleep 0.05
    done
}
is_ready() { [ "$(node_ready "$1")" = "$2" ]; }
has() { jq -e "$2" <<<"$1" >/dev/null; } # JSON JQ-FILTER: true and non-null
vmi_is() { [ "$(vmi_field "$dom" "$1")" = "$2" ]; }

e2e_lab 3
e2e_step "build the test guest"
lab_guest_build 2>&1

# orchestratord's database, configuration and log; kept for a look after a
# failure, replaced by the next run.
work=$ORCH_BUILD/e2e/$e2e_name.work
rm -rf "$work"
mkdir -p "$work"

e2e_step "start orchestratord on $api"
# shellcheck disable=SC2086 # the host list
lab_orchd_conf "$work" $hosts -- "node_monitor_grace_period_s = $grace;"
orchd_log=$work/orchestratord.log
start_orchd() {
    lab_orchd_start "$work" || e2e_fail "orchestratord does not answer /healthz"
    orchd_pid=$LAB_STARTED_PID
    e2e_pids+=("$orchd_pid")
}
start_orchd

declare -A agent_pid agent_log
start_agent() { # HOST
    lab_migrator_start "$1" "$interval"
    agent_pid[$1]=$LAB_STARTED_PID
    agent_log[$1]=$(lab_host_dir "$1")/log/migrator.log
    e2e_pids+=("${agent_pid[$1]}")
}

e2e_step "start a migrator on each host: every node Ready within 5 s"
for h in $hosts; do start_agent "$h"; done
for h in $hosts; do
    if ! t=$(wait_for 5 is_ready "$h" True); then
        cat "${agent_log[$h]}" "$orchd_log"
        e2e_fail "node $h is not Ready within 5 s (Ready=$(node_ready "$h"))"
    fi
    e2e_note "ok: node $h Ready after $t s"
done
node=$(get /api/v1/nodes/host-a)
e2e_note "host-a: $node"
e2e_check "host-a carries its hostname label" \
    [ "$(jq -r '.metadata.labels["kubernetes.io/hostname"]' <<<"$node")" = host-a ]
e2e_check "host-a carries the config's label" [ "$(jq -r '.metadata.labels.lab' <<<"$node")" = orchlab ]
e2e_check "host-a lists its address 198.18.0.11" \
    has "$node" '.status.addresses[] | select(.address == "198.18.0.11")'
e2e_check "host-a has capacity and allocatable" \
    has "$node" '.status.capacity.cpu and .status.capacity.memory and .status.allocatable.memory'
e2e_check "host-a reports libvirt's version and its host UUID" \
    has "$node" '.status.nodeInfo.libvirtVersion and .status.nodeInfo.systemUUID'
e2e_check "Ready carries lastHeartbeatTime" \
    has "$node" '.status.conditions[] | select(.type == "Ready") | .lastHeartbeatTime'

e2e_step "a node credential acts only for its own host"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X PUT \
    -H "Authorization: Bearer $(lab_node_token host-a)" -H 'Content-Type: application/json' \
    --data '{"name":"host-b"}' "$api/apis/agent.orchestrator.io/v1/nodereports/host-b")
e2e_check "host-a's credential reporting for host-b gets 403 (got $code)" [ "$code" = 403 ]
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST \
    -H "Authorization: Bearer $(lab_node_token host-a)" -H 'Content-Type: application/yaml' \
    --data-binary @"$ORCH_TOP/tests/data/migration.yaml" \
    "$api/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstancemigrations")
e2e_check "host-a's credential creating a migration gets 403 (got $code)" [ "$code" = 403 ]

e2e_step "start $dom by hand with virsh on host-a: a Running VMI within 1 s"
lab_guest_start host-a "$dom" "$addr"
if ! t=$(wait_for 1 vmi_is .status.phase Running); then
    t=$(wait_for 5 vmi_is .status.phase Running) || t=never
    e2e_fail "VMI $dom not Running within 1 s (after $t s)"
fi
e2e_note "ok: VMI $dom Running after $t s"
e2e_check "VMI $dom is on host-a" vmi_is .status.nodeName host-a
e2e_check "VMI $dom shows its MAC" vmi_is '.status.interfaces[0].mac' "$(lab_guest_mac "$addr")"
e2e_check "VMI $dom is live-migratable" \
    vmi_is '.status.conditions[] | select(.type == "LiveMigratable") | .status' True

e2e_step "migrate $dom by hand host-a -> host-b: the VMI follows"
lab_wait_ping "$addr" 60 || e2e_fail "$dom does not answer ping"
lab_migrate_raw host-a host-b "$dom" "$addr" || e2e_fail "virsh migrate failed"
t=$(wait_for 3 vmi_is .status.nodeName host-b) || e2e_fail "VMI $dom still on $(vmi_field "$dom" .status.nodeName)"
e2e_note "ok: VMI $dom on host-b after $t s"
e2e_check "VMI $dom is still Running" vmi_is .status.phase Running

e2e_step "a killed migrator: host-c Unknown after the grace period, Ready once restarted"
kill -KILL "${agent_pid[host-c]}"
t=$(wait_for $((grace + 3)) is_ready host-c Unknown) || e2e_fail "host-c is $(node_ready host-c), not Unknown"
e2e_note "ok: host-c Unknown after $t s (grace $grace s)"
start_agent host-c
t=$(wait_for 5 is_ready host-c True) || e2e_fail "host-c is not Ready again"
e2e_note "ok: host-c Ready again after $t s"

e2e_step "orchestratord restarted: the same nodes and VMIs"
before=$(get /api/v1/nodes | jq -c '[.items[] | .metadata.name] | sort')
vmis_before=$(get "$vmi_path" | jq -c '[.items[] | [.metadata.name, .status.nodeName, .status.phase]] | sort')
kill -TERM "$orchd_pid"
wait "$orchd_pid" || e2e_fail "orchestratord did not exit 0 on SIGTERM"
start_orchd
e2e_check "the same nodes ($before)" [ "$(get /api/v1/nodes | jq -c '[.items[] | .metadata.name] | sort')" = "$before" ]
e2e_check "the same VMIs ($vmis_before)" \
    [ "$(get "$vmi_path" | jq -c '[.items[] | [.metadata.name, .status.nodeName, .status.phase]] | sort')" = "$vmis_before" ]
for h in $hosts; do
    e2e_check "node $h is Ready after the restart" is_ready "$h" True
done

e2e_step "virsh destroy $dom on host-b: the VMI turns Failed (ACPI guest, as KubeVirt says)"
virsh -q -c "$(lab_host_uri host-b)" destroy "$dom" >/dev/null
if ! t=$(wait_for 1 vmi_is .status.phase Failed); then
    t=$(wait_for 5 vmi_is .status.phase Failed) || t=never
    e2e_fail "VMI $dom not Failed within 1 s (after $t s; phase $(vmi_field "$dom" .status.phase))"
fi
e2e_note "ok: VMI $dom Failed after $t s"
e2e_check "VMI $dom keeps its record on host-b" vmi_is .status.nodeName host-b

e2e_step "stop the migrators and orchestratord (SIGTERM, exit 0)"
for h in $hosts; do
    kill -TERM "${agent_pid[$h]}"
    rc=0
    wait "${agent_pid[$h]}" || rc=$?
    e2e_check "the agent on $h exited 0 (got $rc)" [ "$rc" -eq 0 ]
done
kill -TERM "$orchd_pid"
rc=0
wait "$orchd_pid" || rc=$?
e2e_check "orchestratord exited 0 (got $rc)" [ "$rc" -eq 0 ]
